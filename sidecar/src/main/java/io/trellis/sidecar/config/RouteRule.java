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
 */
public record RouteRule(String name, StringMatcher path, Map<String, StringMatcher> headers, List<String> methods,
        List<WeightedBackend> backends, Duration timeout) {
    /** Copies the collections. */
    public RouteRule {
        headers = Map.copyOf(headers);
        methods = List.copyOf(methods);
        backends = List.copyOf(backends);
    }

    /** The rule used when a service has no routes: any request, every endpoint. */
    public static RouteRule catchAll() {
        return new RouteRule("default", null, Map.of(), List.of(), List.of(new WeightedBackend(Map.of(), 100)), null);
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
}
