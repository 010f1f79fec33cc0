package io.trellis.sidecar.pipeline;

/**
 * What the edges of a pipeline need to know about one request once it is answered: its id, when it started,
 * and the service it is counted under, which stages learn on the way (the destination is known only after
 * routing). One per request; the service label is the only field written after creation.
 */
public final class RequestContext {
    private final String direction;
    private final String requestId;
    private final long startNanos;
    private volatile String service;

    /**
     * A context for a request that started at {@code startNanos} ({@link System#nanoTime()} scale).
     *
     * @param service the label until a stage knows better ({@code unknown} outbound, our own service inbound)
     */
    public RequestContext(String direction, String requestId, long startNanos, String service) {
        this.direction = direction;
        this.requestId = requestId;
        this.startNanos = startNanos;
        this.service = service;
    }

    /** {@code inbound} or {@code outbound}. */
    public String direction() {
        return direction;
    }

    /** The {@code x-request-id}. */
    public String requestId() {
        return requestId;
    }

    /** When the request arrived. */
    public long startNanos() {
        return startNanos;
    }

    /** The service the request is counted under. */
    public String service() {
        return service;
    }

    /** Records the destination once routing found it. */
    public void service(String resolved) {
        this.service = resolved;
    }
}
