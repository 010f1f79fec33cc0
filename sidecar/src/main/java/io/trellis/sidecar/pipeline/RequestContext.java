package io.trellis.sidecar.pipeline;

/**
 * What the edges of a pipeline need to know about one request once it is answered: its id, when it started,
 * and the service it is counted under, which stages learn on the way (the destination is known only after
 * routing), and what the retry stage did. One per request; the service label and the retry note are the only
 * fields written after creation.
 */
public final class RequestContext {
    private final String direction;
    private final String requestId;
    private final long startNanos;
    private volatile String service;
    private volatile String retryNote;

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

    /** The {@code trellis-retry} header value (attempts made, retry skipped and why), or null when there was no retry. */
    public String retryNote() {
        return retryNote;
    }

    /** Records what the retry stage did. */
    public void retryNote(String note) {
        this.retryNote = note;
    }
}
