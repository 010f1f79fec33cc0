package io.trellis.sidecar.config;

import java.util.List;

/**
 * Which topics this sidecar's app may publish to, compiled by the control plane from TopicPolicy resources for
 * this sidecar's identity: a topic matching {@code allowed} may be published to; otherwise one matching
 * {@code restricted} may not; any other topic may. Patterns are topic names or prefixes ending in {@code *}.
 */
public record PublishPolicy(List<String> restricted, List<String> allowed) {
    /** No restriction at all. */
    public static final PublishPolicy OPEN = new PublishPolicy(List.of(), List.of());

    /** Copies lists. */
    public PublishPolicy {
        restricted = List.copyOf(restricted);
        allowed = List.copyOf(allowed);
    }

    /** True when the app may publish to {@code topic}. */
    public boolean allows(String topic) {
        return matchesAny(allowed, topic) || !matchesAny(restricted, topic);
    }

    private static boolean matchesAny(List<String> patterns, String topic) {
        for (String pattern : patterns) {
            if (pattern.endsWith("*") ? topic.startsWith(pattern.substring(0, pattern.length() - 1)) : pattern.equals(topic)) {
                return true;
            }
        }
        return false;
    }
}
