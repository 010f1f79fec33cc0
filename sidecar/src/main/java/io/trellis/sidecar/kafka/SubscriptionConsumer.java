package io.trellis.sidecar.kafka;

import io.trellis.sidecar.config.Subscription;
import java.time.Duration;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.kafka.CommitterSettings;
import org.apache.pekko.kafka.ConsumerSettings;
import org.apache.pekko.kafka.Subscriptions;
import org.apache.pekko.kafka.javadsl.Committer;
import org.apache.pekko.kafka.javadsl.Consumer;

/**
 * The stream of one subscription: each assigned partition is its own source, delivering one event at a time (so
 * order within a partition holds), sharing {@code maxInFlight} delivery slots with the other partitions; offsets
 * go to the committer only after their event was delivered or dead-lettered, in partition order. Nothing waits
 * in memory beyond what the Kafka consumer fetched (bounded by the settings below): a slow app stops demand, the
 * consumer pauses its partitions and keeps polling, so it stays in its group. Stateless.
 */
final class SubscriptionConsumer {
    /** More than any subscription is assigned: every assigned partition gets its own substream at once. */
    private static final int MAX_PARTITIONS = 4096;

    private SubscriptionConsumer() {
    }

    /** Starts consuming; the control drains (finishes deliveries in flight, commits) and stops it. */
    static Consumer.DrainingControl<Done> start(ActorSystem<?> system, Subscription subscription, String brokers, String clientId,
            EventDelivery delivery) {
        DeliverySlots slots = new DeliverySlots(subscription.maxInFlight());
        return Consumer.committablePartitionedSource(settings(system, subscription, brokers, clientId),
                        Subscriptions.topics(Set.copyOf(subscription.topics())))
                .flatMapMerge(MAX_PARTITIONS, partition -> partition.second()
                        .mapAsync(1, message -> slots.acquire()
                                .thenCompose(held -> delivery.deliver(message.record()))
                                .whenComplete((done, error) -> slots.release())
                                .thenApply(done -> message.committableOffset())))
                .toMat(Committer.sink(CommitterSettings.create(system).withMaxBatch(100).withMaxInterval(Duration.ofSeconds(1))),
                        Consumer::createDrainingControl)
                .run(system);
    }

    /** Consumer settings: commits by us only; a new group starts at the earliest event; small fetches. */
    static ConsumerSettings<byte[], byte[]> settings(ActorSystem<?> system, Subscription subscription, String brokers,
            String clientId) {
        return ConsumerSettings.create(system, new ByteArrayDeserializer(), new ByteArrayDeserializer())
                .withBootstrapServers(brokers)
                .withGroupId(subscription.consumerGroup())
                .withClientId(clientId)
                .withProperty(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest")
                .withProperty(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false")
                // Bounds what waits in the sidecar's heap whatever the backlog: at most a few MiB fetched ahead.
                .withProperty(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "100")
                .withProperty(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, Integer.toString(4 * 1024 * 1024))
                .withProperty(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Integer.toString(1024 * 1024))
                // A topic created after the consumer started (the first publish creates it) is seen within 5 s, not
                // Kafka's 5 min; partitions added to a topic too.
                .withProperty(ConsumerConfig.METADATA_MAX_AGE_CONFIG, "5000")
                // A sidecar killed without leaving its group holds its partitions until the session times out:
                // 10 s rather than Kafka's 45 s (heartbeats come from the client's own thread, not from deliveries).
                .withProperty(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000")
                .withProperty(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "3000")
                // Draining is done through the DrainingControl; Pekko's own stop wait would add 30 s.
                .withStopTimeout(Duration.ZERO);
    }
}
