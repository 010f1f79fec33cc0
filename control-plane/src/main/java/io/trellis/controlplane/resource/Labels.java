package io.trellis.controlplane.resource;

import java.util.regex.Pattern;

/** Kubernetes label syntax: keys {@code [prefix/]name}, values up to 63 characters. */
public final class Labels {
    private static final Pattern NAME = Pattern.compile("([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)");
    private static final Pattern PREFIX = Pattern.compile("[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?");

    private Labels() {
    }

    /** Records errors for an invalid label key or value under {@code at}. */
    public static void validate(Validation v, String at, String key, String value) {
        v.check(isValidKey(key), at, key, "a label key: [prefix/]name, name up to 63 of A-Z a-z 0-9 - _ .");
        v.check(value != null && (value.isEmpty() || NAME.matcher(value).matches()), at + "." + key, value,
                "a label value: up to 63 of A-Z a-z 0-9 - _ .");
    }

    /** True when {@code key} is a valid label key. */
    public static boolean isValidKey(String key) {
        if (key == null) {
            return false;
        }
        int slash = key.indexOf('/');
        String name = slash < 0 ? key : key.substring(slash + 1);
        return NAME.matcher(name).matches() && (slash < 0 || PREFIX.matcher(key.substring(0, slash)).matches());
    }
}
