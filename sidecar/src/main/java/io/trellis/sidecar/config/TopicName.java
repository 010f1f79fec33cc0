package io.trellis.sidecar.config;

import java.util.regex.Pattern;

/** Kafka's rule for topic names, checked before anything reaches a broker. */
public final class TopicName {
    /** The rule, for error messages. */
    public static final String RULE = "a Kafka topic name: 1-249 of a-z A-Z 0-9 . _ -";
    private static final Pattern LEGAL = Pattern.compile("[a-zA-Z0-9._-]{1,249}");

    private TopicName() {
    }

    /** True for a legal topic name. */
    public static boolean isValid(String topic) {
        return topic != null && LEGAL.matcher(topic).matches() && !topic.equals(".") && !topic.equals("..");
    }

    /** True for Kafka's own topics ({@code __consumer_offsets}, {@code __transaction_state}...). */
    public static boolean isInternal(String topic) {
        return topic.startsWith("__");
    }
}
