package io.trellis.sidecar.config;

import java.time.Duration;
import java.util.Set;

/**
 * How this sidecar calls one service (the service's TrafficPolicy, defaults filled in by the control plane).
 *
 * @param timeouts request, connect and idle timeouts
 * @param retries when and how often a failed attempt is tried again
 * @param limits concurrency limits; excess requests fail fast with {@code overloaded}
 * @param outlier when an endpoint is ejected from balancing
 * @param breaker when the whole cluster fails fast with {@code circuit-open}
 * @param balancer how an endpoint is picked
 */
public record ClusterPolicy(Timeouts timeouts, Retries retries, Limits limits, Outlier outlier, Breaker breaker,
        Balancer balancer) {
    /** DESIGN.md §5 defaults, for clusters a snapshot leaves without policy. */
    public static final ClusterPolicy DEFAULTS = new ClusterPolicy(Timeouts.DEFAULTS, Retries.DEFAULTS, Limits.DEFAULTS,
            Outlier.DEFAULTS, Breaker.DEFAULTS, Balancer.LEAST_REQUEST);

    /** Load-balancing algorithms. */
    public enum Balancer {
        /** Power of two choices, fewer requests in flight wins (the default). */
        LEAST_REQUEST,
        /** Each endpoint in turn. */
        ROUND_ROBIN,
        /** Uniformly at random (weighted by endpoint weight). */
        RANDOM,
        /** Power of two choices over a moving average of latency times load. */
        EWMA
    }

    /**
     * Retry policy.
     *
     * @param attempts retries after the first attempt (0 = none)
     * @param perTryTimeout bound on one attempt; null = only the request deadline
     * @param retryOn conditions: {@code connect-failure}, {@code refused-stream}, {@code reset}, {@code 5xx},
     *     {@code gateway-error}, a status {@code 500}-{@code 599}, or a gRPC status name in kebab case
     * @param backoffBase first backoff ceiling
     * @param backoffMax largest backoff ceiling
     * @param budgetRatio retries allowed as a share of requests
     * @param budgetMinPerSecond retries allowed per second regardless of the ratio
     * @param retryNonIdempotent retry POST/PATCH even when the request may have reached the app
     * @param maxBufferedBody request bodies up to this size are kept for replay; larger ones are not retried
     */
    public record Retries(int attempts, Duration perTryTimeout, Set<String> retryOn, Duration backoffBase,
            Duration backoffMax, double budgetRatio, int budgetMinPerSecond, boolean retryNonIdempotent,
            long maxBufferedBody) {
        /** DESIGN.md §5 defaults. */
        public static final Retries DEFAULTS = new Retries(2, null,
                Set.of("connect-failure", "refused-stream", "reset", "502", "503", "504"), Duration.ofMillis(25),
                Duration.ofMillis(250), 0.2, 10, false, 64 * 1024);

        /** Copies the set. */
        public Retries {
            retryOn = Set.copyOf(retryOn);
        }
    }

    /**
     * Per-cluster concurrency limits.
     *
     * @param maxConnections connections open to the cluster's endpoints
     * @param maxPendingRequests requests waiting for a connection or a stream
     * @param maxRequests requests in flight
     */
    public record Limits(int maxConnections, int maxPendingRequests, int maxRequests) {
        /** DESIGN.md §5 defaults. */
        public static final Limits DEFAULTS = new Limits(1024, 1024, 1024);
    }

    /**
     * Per-endpoint outlier detection.
     *
     * @param consecutiveErrors gateway errors (502/503/504, connect failure, reset, timeout) in a row that eject
     * @param interval how often ejections are reviewed
     * @param baseEjectionTime ejection time, multiplied by the number of times the endpoint was ejected
     * @param maxEjectionPercent never eject more than this share of the cluster's endpoints
     */
    public record Outlier(int consecutiveErrors, Duration interval, Duration baseEjectionTime, int maxEjectionPercent) {
        /** DESIGN.md §5 defaults. */
        public static final Outlier DEFAULTS = new Outlier(5, Duration.ofSeconds(10), Duration.ofSeconds(30), 50);
    }

    /**
     * Cluster circuit breaker.
     *
     * @param failureRatio opens when failures / requests in the window reach this
     * @param minRequests and at least this many requests were seen in the window
     * @param window the sliding window
     * @param openFor how long it fails fast before letting probes through
     * @param halfOpenProbes probe requests that must all succeed to close it again
     */
    public record Breaker(double failureRatio, int minRequests, Duration window, Duration openFor, int halfOpenProbes) {
        /** DESIGN.md §5 defaults. */
        public static final Breaker DEFAULTS = new Breaker(0.5, 20, Duration.ofSeconds(10), Duration.ofSeconds(30), 3);
    }
}
