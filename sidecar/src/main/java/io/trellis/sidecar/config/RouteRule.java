package io.trellis.sidecar.config;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * One rule of a service's routes: when it matches, the request goes to one of its backends.
 *
 * @param name {@code <route resource>/<index>}, or {@code default} for the implicit route
 * @param path the path match; null = any path
 * @param headers lower-case header name to match; every entry must match
 * @param methods allowed methods; empty = any
 * @param backends weighted subsets; at least one
 * @param timeout the request timeout for this rule, or null for the cluster's
 * @param fault faults to inject, or null
 * @param fallback the static response when the service cannot be called, or null
 */
public record RouteRule(String name, StringMatcher path, Map<String, StringMatcher> headers, List<String> methods,
        List<WeightedBackend> backends, Duration timeout, Fault fault, Fallback fallback) {
    /** Copies the collections. */
    public RouteRule {
        headers = Map.copyOf(headers);
        methods = List.copyOf(methods);
        backends = List.copyOf(backends);
    }

    /** The rule used when a service has no routes: any request, every endpoint. */
    public static RouteRule catchAll() {
        return new RouteRule("default", null, Map.of(), List.of(), List.of(new WeightedBackend(Map.of(), 100)), null,
                null, null);
    }

    /**
     * A subset of a cluster's endpoints with a relative weight.
     *
     * @param subset endpoint labels; empty = every endpoint
     * @param weight relative weight among the rule's backends
     */
    public record WeightedBackend(Map<String, String> subset, int weight) {
        /** Copies the subset. */
        public WeightedBackend {
            subset = Map.copyOf(subset);
        }
    }

    /**
     * Injected faults, for chaos testing; each part applies to its own share of requests.
     *
     * @param delayPercent share of requests delayed, 0-100
     * @param delay how long they are delayed (zero when no delay)
     * @param abortPercent share of requests answered with {@code abortStatus} without calling the service, 0-100
     * @param abortStatus the status they get
     */
    public record Fault(double delayPercent, Duration delay, double abortPercent, int abortStatus) {
    }

    /**
     * A static response used when the circuit is open or no endpoint is healthy, marked {@code trellis-fallback: true}.
     *
     * @param status HTTP status
     * @param contentType media type of {@code body}
     * @param body the body (UTF-8)
     */
    public record Fallback(int status, String contentType, String body) {
    }
}
