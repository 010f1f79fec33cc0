package io.trellis.sidecar.kafka;

import io.trellis.sidecar.config.Subscription;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes events the app refused, or that ran out of retries, to their dead-letter topic: the original key, value
 * and headers, plus {@code trellis-dlq-*} headers saying where the event came from (topic, partition, offset),
 * which subscription gave up on it, after how many attempts, why, and the last error. The returned stage completes
 * only once the brokers acknowledged the write, retrying until they do, so an offset is never committed for an
 * event that is neither delivered nor dead-lettered. Thread-safe.
 */
final class DeadLetters {
    /** Header names of the metadata added to a dead letter. */
    static final String TOPIC = "trellis-dlq-topic";
    static final String PARTITION = "trellis-dlq-partition";
    static final String OFFSET = "trellis-dlq-offset";
    static final String ATTEMPTS = "trellis-dlq-attempts";
    static final String REASON = "trellis-dlq-reason";
    static final String ERROR = "trellis-dlq-error";
    static final String SUBSCRIPTION = "trellis-dlq-subscription";
    static final String TIME = "trellis-dlq-time";
    private static final Logger LOG = LoggerFactory.getLogger(DeadLetters.class);
    private static final Duration RETRY_WAIT = Duration.ofSeconds(1);

    private final ActorSystem<?> system;
    private final EventPublisher publisher;
    private final Clock clock;

    DeadLetters(ActorSystem<?> system, EventPublisher publisher, Clock clock) {
        this.system = system;
        this.publisher = publisher;
        this.clock = clock;
    }

    /**
     * Writes {@code record} to the dead-letter topic of its topic in {@code subscription}.
     *
     * @param reason {@code rejected} (the app answered 4xx) or {@code exhausted} (retries used up)
     */
    CompletionStage<Done> write(Subscription subscription, ConsumerRecord<byte[], byte[]> record, int attempts, String reason,
            String lastError) {
        String topic = subscription.deadLetterTopic(record.topic());
        ProducerRecord<byte[], byte[]> letter = new ProducerRecord<>(topic, null, record.key(), record.value());
        for (Header header : record.headers()) {
            if (!header.key().startsWith("trellis-dlq-")) {
                letter.headers().add(header);
            }
        }
        add(letter, TOPIC, record.topic());
        add(letter, PARTITION, Integer.toString(record.partition()));
        add(letter, OFFSET, Long.toString(record.offset()));
        add(letter, ATTEMPTS, Integer.toString(attempts));
        add(letter, REASON, reason);
        add(letter, ERROR, lastError);
        add(letter, SUBSCRIPTION, subscription.name());
        add(letter, TIME, clock.instant().toString());
        CompletableFuture<Done> written = new CompletableFuture<>();
        send(letter, written, 1);
        return written;
    }

    private void send(ProducerRecord<byte[], byte[]> letter, CompletableFuture<Done> written, int attempt) {
        publisher.send(letter).whenComplete((metadata, error) -> {
            if (error == null) {
                written.complete(Done.getInstance());
                return;
            }
            if (attempt == 1 || attempt % 30 == 0) {
                LOG.warn("writing a dead letter to {} failed (attempt {}), retrying: {}", letter.topic(), attempt, error.getMessage());
            }
            system.scheduler().scheduleOnce(RETRY_WAIT, () -> send(letter, written, attempt + 1), system.executionContext());
        });
    }

    private static void add(ProducerRecord<byte[], byte[]> letter, String name, String value) {
        letter.headers().add(new RecordHeader(name, value.getBytes(StandardCharsets.UTF_8)));
    }
}
