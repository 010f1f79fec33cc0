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
