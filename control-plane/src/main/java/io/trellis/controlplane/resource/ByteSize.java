package io.trellis.controlplane.resource;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A size in bytes written the Kubernetes way: {@code 65536}, {@code 64Ki}, {@code 1Mi}, {@code 1Gi}.
 * Immutable.
 */
public record ByteSize(long bytes) {
    private static final Pattern FORM = Pattern.compile("(\\d{1,12})(Ki|Mi|Gi)?");

    /** Parses {@code text}. @throws IllegalArgumentException naming the expected form */
    public static ByteSize parse(String text) {
        Matcher m = text == null ? null : FORM.matcher(text);
        if (m == null || !m.matches()) {
            throw new IllegalArgumentException("'" + text + "' (expected a size like 65536, 64Ki, 1Mi)");
        }
        long amount = Long.parseLong(m.group(1));
        String unit = m.group(2);
        long multiplier = unit == null ? 1 : switch (unit) {
            case "Ki" -> 1L << 10;
            case "Mi" -> 1L << 20;
            default -> 1L << 30;
        };
        return new ByteSize(Math.multiplyExact(amount, multiplier));
    }

    /** The shortest exact text, e.g. {@code 64Ki}. */
    @Override
    public String toString() {
        if (bytes != 0 && bytes % (1L << 30) == 0) {
            return bytes / (1L << 30) + "Gi";
        }
        if (bytes != 0 && bytes % (1L << 20) == 0) {
            return bytes / (1L << 20) + "Mi";
        }
        if (bytes != 0 && bytes % (1L << 10) == 0) {
            return bytes / (1L << 10) + "Ki";
        }
        return Long.toString(bytes);
    }
}
