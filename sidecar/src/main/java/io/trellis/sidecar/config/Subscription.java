package io.trellis.sidecar.config;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * One Subscription resource, as this sidecar runs it: events from {@code topics} are POSTed to the app's
 * {@code path}. Immutable; a changed subscription is a new value, and its consumer is restarted.
 *
 * @param name the resource name (metrics label, Kafka client id)
 * @param topics the topics consumed
 * @param path the app path each event is POSTed to
 * @param consumerGroup the Kafka consumer group (replicas of a service share the work)
 * @param maxInFlight deliveries in flight at once, over all partitions (one per partition at a time)
 * @param attempts retries of a delivery that failed with 5xx or a timeout, after the first attempt
 * @param backoffBase the ceiling of the first retry's full-jitter wait
 * @param backoffMax the largest wait between retries
 * @param deliveryTimeout how long one delivery attempt may take
 * @param deadLetterTopics for each topic, where events the app refused or that ran out of retries go
 */
public record Subscription(String name, List<String> topics, String path, String consumerGroup, int maxInFlight,
        int attempts, Duration backoffBase, Duration backoffMax, Duration deliveryTimeout,
        Map<String, String> deadLetterTopics) {
    /** Copies collections. */
    public Subscription {
        topics = List.copyOf(topics);
        deadLetterTopics = Map.copyOf(deadLetterTopics);
    }

    /** The dead-letter topic of {@code topic}. */
    public String deadLetterTopic(String topic) {
        return deadLetterTopics.getOrDefault(topic, topic + ".dlq");
    }
}
