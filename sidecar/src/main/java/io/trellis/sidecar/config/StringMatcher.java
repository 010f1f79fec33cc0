package io.trellis.sidecar.config;

import com.google.re2j.Pattern;

/**
 * A match on a string value (path or header): exact, prefix or a full-string regex. Regexes are RE2 (as Envoy's),
 * matched in time linear in the value: a pattern such as {@code (a+)+$} cannot make a request path cost a core.
 * Immutable.
 */
public sealed interface StringMatcher {
    /** True when {@code value} (never null) matches. */
    boolean matches(String value);

    /** Matches exactly {@code value}. */
    record Exact(String value) implements StringMatcher {
        @Override
        public boolean matches(String candidate) {
            return value.equals(candidate);
        }
    }

    /** Matches values starting with {@code prefix}. */
    record Prefix(String prefix) implements StringMatcher {
        @Override
        public boolean matches(String candidate) {
            return candidate.startsWith(prefix);
        }
    }

    /** Matches values the whole of which {@code pattern} matches. */
    record Regex(Pattern pattern) implements StringMatcher {
        @Override
        public boolean matches(String candidate) {
            return pattern.matcher(candidate).matches();
        }
    }
}
