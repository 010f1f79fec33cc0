package io.trellis.controlplane.resource;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Routing rules for calls to one service; the first rule whose match fits wins. A rule splits traffic
 * by weight across subsets of the service's endpoints (selected by labels) and may add a timeout,
 * fault injection and a static fallback.
 */
public record RouteSpec(String service, List<Rule> rules) implements Spec {
    private static final Pattern TOKEN = Pattern.compile("[!#$%&'*+.^_`|~0-9a-z-]+");
    private static final Pattern METHOD = Pattern.compile("[A-Z]+");

    /** One rule. */
    public record Rule(Match match, List<Backend> backends, Duration timeout, Fault fault, Fallback fallback) {
        Rule withDefaults() {
            return new Rule(Spec.or(match, new Match(null, null, null)).withDefaults(),
                    List.copyOf(Spec.or(backends, List.of(new Backend(Map.of(), 100)))).stream()
                            .map(Backend::withDefaults).toList(),
                    timeout, fault == null ? null : fault.withDefaults(),
                    fallback == null ? null : fallback.withDefaults());
        }

        void validate(Validation v, String at) {
            match.validate(v, at + ".match");
            if (v.required(backends, at + ".backends", "at least one backend")) {
                long total = 0;
                for (int i = 0; i < backends.size(); i++) {
                    backends.get(i).validate(v, at + ".backends[" + i + "]");
                    total += backends.get(i).weight();
                }
                v.check(total > 0, at + ".backends", "total weight " + total, "a total weight > 0");
            }
            if (timeout != null) {
                v.positive(timeout, at + ".timeout");
            }
            if (fault != null) {
                fault.validate(v, at + ".fault");
            }
            if (fallback != null) {
                fallback.validate(v, at + ".fallback");
            }
        }
    }

    /** What a request must look like for the rule to apply; unset parts match anything. */
    public record Match(StringMatch path, Map<String, StringMatch> headers, List<String> methods) {
        Match withDefaults() {
            return new Match(Spec.or(path, new StringMatch(null, "/", null)),
                    Map.copyOf(Spec.or(headers, Map.of())), List.copyOf(Spec.or(methods, List.of())));
        }

        void validate(Validation v, String at) {
            path.validate(v, at + ".path");
            if (path.exact() != null) {
                v.check(path.exact().startsWith("/"), at + ".path.exact", path.exact(), "a path starting with '/'");
            }
            if (path.prefix() != null) {
                v.check(path.prefix().startsWith("/"), at + ".path.prefix", path.prefix(), "a path starting with '/'");
            }
            new LinkedHashMap<>(headers).forEach((name, match) -> {
                v.check(TOKEN.matcher(name).matches(), at + ".headers", name, "a lower-case header name");
                match.validate(v, at + ".headers." + name);
            });
            for (int i = 0; i < methods.size(); i++) {
                v.check(METHOD.matcher(methods.get(i)).matches(), at + ".methods[" + i + "]", methods.get(i),
                        "an upper-case HTTP method");
            }
        }
    }

    /**
     * Exactly one of exact, prefix or regex (RE2 syntax, as Envoy's, matched against the whole value in linear time:
     * no backreferences or lookaround).
     */
    public record StringMatch(String exact, String prefix, String regex) {
        void validate(Validation v, String at) {
            int set = (exact != null ? 1 : 0) + (prefix != null ? 1 : 0) + (regex != null ? 1 : 0);
            if (set != 1) {
                v.error(at, set + " of exact, prefix, regex set (expected exactly one)");
                return;
            }
            if (regex != null) {
                try {
                    com.google.re2j.Pattern.compile(regex);
                } catch (com.google.re2j.PatternSyntaxException e) {
                    v.error(at + ".regex", "'" + regex + "' (expected an RE2 regular expression: "
                            + e.getDescription() + ")");
                }
            }
        }
    }

    /** A weighted share of traffic to the endpoints whose labels include {@code subset}. */
    public record Backend(Map<String, String> subset, Integer weight) {
        Backend withDefaults() {
            return new Backend(Map.copyOf(Spec.or(subset, Map.of())), Spec.or(weight, 100));
        }

        void validate(Validation v, String at) {
            v.check(weight >= 0 && weight <= 1000, at + ".weight", weight, ">= 0 and <= 1000");
            subset.forEach((key, value) -> Labels.validate(v, at + ".subset", key, value));
        }
    }

    /** Injected faults, for chaos testing. */
    public record Fault(Delay delay, Abort abort) {
        Fault withDefaults() {
            return new Fault(delay, abort == null ? null : abort.withDefaults());
        }

        void validate(Validation v, String at) {
            if (delay == null && abort == null) {
                v.error(at, "empty (expected delay, abort or both)");
            }
            if (delay != null) {
                if (v.required(delay.percent(), at + ".delay.percent", "0-100")) {
                    v.between(delay.percent(), 0, 100, at + ".delay.percent");
                }
                if (v.required(delay.duration(), at + ".delay.duration", "a duration")) {
                    v.positive(delay.duration(), at + ".delay.duration");
                }
            }
            if (abort != null) {
                if (v.required(abort.percent(), at + ".abort.percent", "0-100")) {
                    v.between(abort.percent(), 0, 100, at + ".abort.percent");
                }
                v.check(abort.status() >= 200 && abort.status() <= 599, at + ".abort.status", abort.status(),
                        "an HTTP status 200-599");
            }
        }
    }

    /** Delays {@code percent} of requests by {@code duration}. */
    public record Delay(Double percent, Duration duration) {
    }

    /** Answers {@code percent} of requests with {@code status} (default 503) without calling the service. */
    public record Abort(Double percent, Integer status) {
        Abort withDefaults() {
            return new Abort(percent, Spec.or(status, 503));
        }
    }

    /** A static response served when the breaker is open or no endpoint is healthy. */
    public record Fallback(Integer status, String contentType, String body) {
        Fallback withDefaults() {
            return new Fallback(Spec.or(status, 200), Spec.or(contentType, "application/json"), Spec.or(body, ""));
        }

        void validate(Validation v, String at) {
            v.check(status >= 200 && status <= 599, at + ".status", status, "an HTTP status 200-599");
            v.check(body.length() <= 64 * 1024, at + ".body", body.length() + " characters", "at most 65536");
        }
    }

    @Override
    public RouteSpec withDefaults() {
        return new RouteSpec(service, rules == null ? List.of() : rules.stream().map(Rule::withDefaults).toList());
    }

    @Override
    public void validate(Validation v) {
        v.dnsLabel(service, "spec.service");
        if (v.required(rules, "spec.rules", "at least one rule")) {
            for (int i = 0; i < rules.size(); i++) {
                rules.get(i).validate(v, "spec.rules[" + i + "]");
            }
        }
    }
}
