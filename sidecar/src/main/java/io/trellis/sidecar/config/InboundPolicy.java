package io.trellis.sidecar.config;

import java.util.List;

/**
 * What this sidecar enforces on callers of its own service.
 *
 * @param authorization the service's authorization policies; empty = every mesh identity may call
 * @param rateLimit the service's inbound rate limit, or null for none
 * @param tcpPorts the app's ports (on 127.0.0.1) that callers may reach as opaque TCP; no other port is ever dialled
 */
public record InboundPolicy(List<AuthorizationPolicy> authorization, RateLimit rateLimit, List<Integer> tcpPorts) {
    /** Copies the lists. */
    public InboundPolicy {
        authorization = List.copyOf(authorization);
        tcpPorts = List.copyOf(tcpPorts);
    }

    /** A policy that opens no opaque-TCP port. */
    public InboundPolicy(List<AuthorizationPolicy> authorization, RateLimit rateLimit) {
        this(authorization, rateLimit, List.of());
    }

    /**
     * A token bucket: {@code requestsPerSecond} sustained, {@code burst} at once.
     *
     * @param perCaller one bucket per caller identity (each caller gets the full rate) instead of one for the workload
     */
    public record RateLimit(double requestsPerSecond, int burst, boolean perCaller) {
    }

    /**
     * One AuthorizationPolicy resource.
     *
     * @param name the resource name (reported when it denies)
     * @param allow true for ALLOW, false for DENY
     * @param rules the rules; a request matching any rule matches the policy
     */
    public record AuthorizationPolicy(String name, boolean allow, List<Rule> rules) {
        /** Copies the rules. */
        public AuthorizationPolicy {
            rules = List.copyOf(rules);
        }
    }

    /**
     * A rule: every non-empty list must contain a match.
     *
     * @param from caller SPIFFE IDs; a trailing {@code /*} matches a subtree, a lone {@code *} any identity
     * @param methods HTTP methods (upper case)
     * @param paths exact paths, or a trailing {@code /*} prefix
     */
    public record Rule(List<String> from, List<String> methods, List<String> paths) {
        /** Copies the lists. */
        public Rule {
            from = List.copyOf(from);
            methods = List.copyOf(methods);
            paths = List.copyOf(paths);
        }
    }
}
