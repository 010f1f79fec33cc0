package io.trellis.controlplane.resource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Collects field errors while a spec checks itself, so a document reports every problem at once.
 * Messages follow one shape: {@code <field>: <value> (expected <expectation>)}. Not thread-safe; one
 * per validation.
 */
public final class Validation {
    private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");

    private final List<FieldError> errors = new ArrayList<>();

    /** Records {@code field: value (expected expectation)} unless {@code ok}. */
    public void check(boolean ok, String field, Object value, String expectation) {
        if (!ok) {
            errors.add(new FieldError(field, display(value) + " (expected " + expectation + ")"));
        }
    }

    /** Records that a required field is missing; returns whether it was present. */
    public boolean required(Object value, String field, String expectation) {
        boolean present = value != null && !(value instanceof String s && s.isEmpty())
                && !(value instanceof Collection<?> c && c.isEmpty());
        if (!present) {
            errors.add(new FieldError(field, "missing (expected " + expectation + ")"));
        }
        return present;
    }

    /** Checks a Kubernetes-style name: a DNS label, lower case, at most 63 characters. */
    public void dnsLabel(String value, String field) {
        if (required(value, field, "a DNS label: lower-case letters, digits and '-', at most 63 characters")) {
            check(value.length() <= 63 && DNS_LABEL.matcher(value).matches(), field, value,
                    "a DNS label: lower-case letters, digits and '-', at most 63 characters");
        }
    }

    /** Checks {@code min <= value}. */
    public void atLeast(long value, long min, String field) {
        check(value >= min, field, value, ">= " + min);
    }

    /** Checks {@code min <= value <= max}. */
    public void between(double value, double min, double max, String field) {
        check(value >= min && value <= max, field, value, "between " + trim(min) + " and " + trim(max));
    }

    /** Checks a duration is strictly positive. */
    public void positive(Duration value, String field) {
        check(!value.isNegative() && !value.isZero(), field, DurationText.format(value), "> 0s");
    }

    /** Records a free-form error. */
    public void error(String field, String message) {
        errors.add(new FieldError(field, message));
    }

    /** Throws {@link InvalidResourceException} when anything was recorded. */
    public void throwIfInvalid() {
        if (!errors.isEmpty()) {
            throw new InvalidResourceException(errors);
        }
    }

    private static String display(Object value) {
        if (value instanceof Duration d) {
            return DurationText.format(d);
        }
        if (value instanceof String s) {
            return "'" + s + "'";
        }
        if (value instanceof Double d) {
            return trim(d);
        }
        return String.valueOf(value);
    }

    private static String trim(double value) {
        return value == Math.rint(value) ? String.valueOf((long) value) : String.valueOf(value);
    }
}
