package io.trellis.sidecar.config;

import java.time.Duration;

/**
 * A cluster's timeouts; every value is positive (the control plane fills the defaults).
 *
 * @param request the whole request, all attempts included
 * @param connect establishing a connection (TCP and TLS) to an endpoint
 * @param streamIdle a stream with no bytes in either direction
 * @param idle a connection with no streams
 */
public record Timeouts(Duration request, Duration connect, Duration streamIdle, Duration idle) {
    /** The defaults of DESIGN.md §5, used when a snapshot leaves a cluster's timeouts unset. */
    public static final Timeouts DEFAULTS = new Timeouts(Duration.ofSeconds(15), Duration.ofSeconds(5),
            Duration.ofMinutes(5), Duration.ofHours(1));
}
