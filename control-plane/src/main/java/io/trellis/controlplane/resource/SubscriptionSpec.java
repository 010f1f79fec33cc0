package io.trellis.controlplane.resource;

import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Delivers events from Kafka topics to a service by HTTP POST (DESIGN.md §6). The consumer group
 * defaults to the service; each topic's dead-letter topic defaults to {@code <topic>.dlq}; {@code timeout} bounds
 * one delivery attempt (default 30 s).
 */
public record SubscriptionSpec(String service, List<String> topics, String path, String consumerGroup,
        Integer maxInFlight, Retries retries, String deadLetterTopic, Duration timeout) implements Spec {
    private static final Pattern TOPIC = Pattern.compile("[a-zA-Z0-9._-]{1,249}");

    /** Delivery retries for 5xx and timeouts. */
    public record Retries(Integer attempts, TrafficPolicySpec.Backoff backoff) {
        Retries withDefaults() {
            return new Retries(Spec.or(attempts, 5), Spec.or(backoff, new TrafficPolicySpec.Backoff(null, null))
                    .withDefaults(Duration.ofMillis(100), Duration.ofSeconds(10)));
        }
    }

    /** True for a legal Kafka topic name. */
    public static boolean isValidTopic(String topic) {
        return topic != null && TOPIC.matcher(topic).matches() && !topic.equals(".") && !topic.equals("..");
    }

    /** The dead-letter topic for {@code topic}. */
    public String deadLetterTopicFor(String topic) {
        return deadLetterTopic != null ? deadLetterTopic : topic + ".dlq";
    }

    @Override
    public SubscriptionSpec withDefaults() {
        return new SubscriptionSpec(service, topics == null ? null : List.copyOf(topics), path,
                Spec.or(consumerGroup, service), Spec.or(maxInFlight, 16),
                Spec.or(retries, new Retries(null, null)).withDefaults(), deadLetterTopic, Spec.or(timeout, Duration.ofSeconds(30)));
    }

    @Override
    public void validate(Validation v) {
        v.dnsLabel(service, "spec.service");
        if (v.required(topics, "spec.topics", "at least one topic")) {
            for (int i = 0; i < topics.size(); i++) {
                v.check(isValidTopic(topics.get(i)), "spec.topics[" + i + "]", topics.get(i),
                        "a Kafka topic name: 1-249 of a-z A-Z 0-9 . _ -");
            }
        }
        if (v.required(path, "spec.path", "an absolute path such as /events")) {
            v.check(path.startsWith("/"), "spec.path", path, "an absolute path such as /events");
        }
        if (consumerGroup != null) {
            v.check(!consumerGroup.isBlank() && consumerGroup.length() <= 255, "spec.consumerGroup", consumerGroup,
                    "1-255 characters");
        }
        v.check(maxInFlight >= 1 && maxInFlight <= 1024, "spec.maxInFlight", maxInFlight, ">= 1 and <= 1024");
        v.check(retries.attempts() >= 0 && retries.attempts() <= 100, "spec.retries.attempts", retries.attempts(),
                ">= 0 and <= 100");
        retries.backoff().validate(v, "spec.retries.backoff");
        v.check(timeout.compareTo(Duration.ofMillis(100)) >= 0 && timeout.compareTo(Duration.ofMinutes(10)) <= 0,
                "spec.timeout", timeout, "between 100ms and 10m");
        if (deadLetterTopic != null) {
            v.check(isValidTopic(deadLetterTopic), "spec.deadLetterTopic", deadLetterTopic,
                    "a Kafka topic name: 1-249 of a-z A-Z 0-9 . _ -");
        }
    }
}
