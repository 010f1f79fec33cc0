package io.trellis.controlplane.resource;

import io.trellis.certs.InvalidSpiffeIdException;
import io.trellis.certs.SpiffeId;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Who may call a service. DENY policies are evaluated first; if any ALLOW policy exists for the
 * service, a request no ALLOW rule matches is denied. A rule matches when the caller, the method and
 * the (normalised) path all match; an unset list matches anything. An ALLOW policy with no rules
 * therefore allows nothing, as in Istio.
 */
public record AuthorizationPolicySpec(String service, Action action, List<Rule> rules) implements Spec {
    private static final Pattern METHOD = Pattern.compile("[A-Z]+|\\*");

    /** What a matching rule does. */
    public enum Action { ALLOW, DENY }

    /**
     * One rule. {@code from}: SPIFFE IDs, a SPIFFE ID ending in {@code /*} for a whole subtree, or
     * {@code *} for any mesh identity.
     */
    public record Rule(List<String> from, To to) {
        Rule withDefaults() {
            return new Rule(List.copyOf(Spec.or(from, List.of())), Spec.or(to, new To(null, null)).withDefaults());
        }

        void validate(Validation v, String at) {
            for (int i = 0; i < from.size(); i++) {
                validatePrincipal(v, at + ".from[" + i + "]", from.get(i));
            }
            to.validate(v, at + ".to");
        }
    }

    /** Methods and paths; paths are exact, or end in {@code /*} to match a subtree, or are {@code *}. */
    public record To(List<String> methods, List<String> paths) {
        To withDefaults() {
            return new To(List.copyOf(Spec.or(methods, List.of())), List.copyOf(Spec.or(paths, List.of())));
        }

        void validate(Validation v, String at) {
            for (int i = 0; i < methods.size(); i++) {
                v.check(METHOD.matcher(methods.get(i)).matches(), at + ".methods[" + i + "]", methods.get(i),
                        "an upper-case HTTP method or *");
            }
            for (int i = 0; i < paths.size(); i++) {
                validatePath(v, at + ".paths[" + i + "]", paths.get(i));
            }
        }
    }

    private static void validatePrincipal(Validation v, String at, String principal) {
        if (principal.equals("*")) {
            return;
        }
        String id = principal.endsWith("/*") ? principal.substring(0, principal.length() - 2) : principal;
        try {
            SpiffeId.parse(id);
        } catch (InvalidSpiffeIdException e) {
            v.error(at, "'" + principal + "' (expected *, a SPIFFE ID, or a SPIFFE ID ending in /*: " + e.getMessage() + ")");
        }
    }

    private static void validatePath(Validation v, String at, String path) {
        if (path.equals("*")) {
            return;
        }
        String body = path.endsWith("/*") ? path.substring(0, path.length() - 2) : path;
        boolean normalised = path.startsWith("/") && !body.contains("//") && !body.contains("/./")
                && !body.contains("/../") && !body.endsWith("/..") && !body.endsWith("/.")
                && !body.contains("%") && !body.contains("?") && !body.contains("#") && !body.contains("*");
        v.check(normalised, at, path,
                "a normalised absolute path (no '//', '.', '..', '%', '?', '#'), optionally ending in /*, or *");
    }

    @Override
    public AuthorizationPolicySpec withDefaults() {
        return new AuthorizationPolicySpec(service, Spec.or(action, Action.ALLOW),
                rules == null ? List.of() : rules.stream().map(Rule::withDefaults).toList());
    }

    @Override
    public void validate(Validation v) {
        v.dnsLabel(service, "spec.service");
        for (int i = 0; i < rules.size(); i++) {
            rules.get(i).validate(v, "spec.rules[" + i + "]");
        }
    }
}
