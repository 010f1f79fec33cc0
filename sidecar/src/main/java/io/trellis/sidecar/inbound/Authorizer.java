package io.trellis.sidecar.inbound;

import io.trellis.certs.SpiffeId;
import io.trellis.sidecar.config.InboundPolicy;
import java.util.List;
import java.util.Optional;

/**
 * Evaluates a service's AuthorizationPolicies for one request, Istio's way: DENY policies first (any match
 * denies); then, if any ALLOW policy exists, the request must match one of them; with no policy at all every
 * caller is allowed. Decisions use the verified peer identity and the normalised path only. Stateless.
 */
public final class Authorizer {
    private Authorizer() {
    }

    /**
     * Why the request is denied, or empty when it is allowed.
     *
     * @param peer the verified caller identity; null for a plaintext caller, who matches no {@code from} rule
     */
    public static Optional<String> denial(InboundPolicy policy, SpiffeId peer, String method, String path) {
        List<InboundPolicy.AuthorizationPolicy> policies = policy.authorization();
        for (InboundPolicy.AuthorizationPolicy candidate : policies) {
            if (!candidate.allow() && matchesAny(candidate, peer, method, path)) {
                return Optional.of("DENY policy " + candidate.name() + " matches " + describe(peer, method, path));
            }
        }
        boolean anyAllow = false;
        for (InboundPolicy.AuthorizationPolicy candidate : policies) {
            if (candidate.allow()) {
                anyAllow = true;
                if (matchesAny(candidate, peer, method, path)) {
                    return Optional.empty();
                }
            }
        }
        return anyAllow ? Optional.of("no ALLOW policy matches " + describe(peer, method, path)) : Optional.empty();
    }

    /**
     * Why an opaque-TCP connection from {@code peer} is denied, or empty when it is allowed. A TCP connection has no
     * method or path, so rules are read as Istio reads them for TCP: an ALLOW rule that names methods or paths
     * matches no TCP connection, and a DENY rule's methods and paths are ignored (it denies on {@code from} alone),
     * so an HTTP-only rule never opens more than it says and a DENY never lets through more.
     */
    public static Optional<String> tcpDenial(InboundPolicy policy, SpiffeId peer, int port) {
        String who = (peer == null ? "a caller without identity" : peer.toString()) + " to TCP port " + port;
        for (InboundPolicy.AuthorizationPolicy candidate : policy.authorization()) {
            if (!candidate.allow() && candidate.rules().stream().anyMatch(rule -> matchesFrom(rule.from(), peer))) {
                return Optional.of("DENY policy " + candidate.name() + " matches " + who);
            }
        }
        boolean anyAllow = false;
        for (InboundPolicy.AuthorizationPolicy candidate : policy.authorization()) {
            if (candidate.allow()) {
                anyAllow = true;
                if (candidate.rules().stream().anyMatch(rule -> rule.methods().isEmpty() && rule.paths().isEmpty()
                        && matchesFrom(rule.from(), peer))) {
                    return Optional.empty();
                }
            }
        }
        return anyAllow ? Optional.of("no ALLOW policy matches " + who) : Optional.empty();
    }

    private static boolean matchesAny(InboundPolicy.AuthorizationPolicy policy, SpiffeId peer, String method, String path) {
        for (InboundPolicy.Rule rule : policy.rules()) {
            if (matchesFrom(rule.from(), peer) && (rule.methods().isEmpty() || rule.methods().contains(method) || rule.methods().contains("*"))
                    && matchesPath(rule.paths(), path)) {
                return true;
            }
        }
        return false;
    }

    private static boolean matchesFrom(List<String> from, SpiffeId peer) {
        if (from.isEmpty()) {
            return true;
        }
        if (peer == null) {
            return false;
        }
        String id = peer.toString();
        for (String pattern : from) {
            if (pattern.equals("*") || pattern.equals(id)
                    || pattern.endsWith("/*") && id.startsWith(pattern.substring(0, pattern.length() - 1))) {
                return true;
            }
        }
        return false;
    }

    private static boolean matchesPath(List<String> paths, String path) {
        if (paths.isEmpty()) {
            return true;
        }
        for (String pattern : paths) {
            if (pattern.equals("*") || pattern.equals(path)
                    || pattern.endsWith("/*") && path.startsWith(pattern.substring(0, pattern.length() - 1))) {
                return true;
            }
        }
        return false;
    }

    private static String describe(SpiffeId peer, String method, String path) {
        return (peer == null ? "a plaintext caller" : peer.toString()) + " " + method + " " + path;
    }
}
