package io.trellis.sidecar.transport.netty;

/**
 * The bounds one HTTP listener enforces and where it reports what they refused. The sidecar sets what operators tune
 * ({@link #of}); each listener adds its direction and its header budget ({@link #on}).
 *
 * @param direction {@code inbound} or {@code outbound}: the metric label of what the listener refuses
 * @param underscores what to do with request headers whose names have an underscore
 * @param maxHeaderBytes the most header bytes a request may have (HTTP/1.1 head, HTTP/2 header list)
 * @param maxConnections the most connections open at once; those beyond are closed as they are accepted
 * @param events told of every refusal
 */
public record ListenerLimits(String direction, UnderscoreHeaders underscores, int maxHeaderBytes, int maxConnections,
        Events events) {
    /** Told when a listener's limit refused or cut something; called on event loops, so it must not block. */
    @FunctionalInterface
    public interface Events {
        /** {@code limit} refused or cut something on a listener of {@code direction}. */
        void hit(String direction, Limit limit);
    }

    /** Validates the bounds. */
    public ListenerLimits {
        if (maxConnections < 1) {
            throw new IllegalArgumentException("maxConnections: " + maxConnections + " (expected >= 1)");
        }
    }

    /** The operator's part: the same for every listener until {@link #on} gives one its direction and header budget. */
    public static ListenerLimits of(UnderscoreHeaders underscores, int maxConnections, Events events) {
        return new ListenerLimits("", underscores, 8 * 1024, maxConnections, events);
    }

    /** These limits for one listener, with the operator's header budget. */
    public ListenerLimits on(String listenerDirection) {
        return on(listenerDirection, maxHeaderBytes);
    }

    /** These limits for one listener. */
    public ListenerLimits on(String listenerDirection, int listenerMaxHeaderBytes) {
        return new ListenerLimits(listenerDirection, underscores, listenerMaxHeaderBytes, maxConnections, events);
    }

    void hit(Limit limit) {
        events.hit(direction, limit);
    }
}
