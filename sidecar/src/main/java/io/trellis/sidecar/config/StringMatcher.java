package io.trellis.sidecar.config;

import java.util.regex.Pattern;

/** A match on a string value (path or header): exact, prefix or a full-string regex. Immutable. */
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
