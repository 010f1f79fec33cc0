package io.trellis.sidecar.kafka;

import io.trellis.sidecar.errors.Causes;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.transport.PekkoFutures;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.kafka.ProducerSettings;
import org.apache.pekko.kafka.javadsl.SendProducer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends records to the brokers the sidecar currently knows ({@code --kafka-bootstrap}, else the mesh config) with
 * an idempotent producer and {@code acks=all}: a send completes only once every in-sync replica has the record,
 * and fails, as {@link ProxyError#BROKER_UNAVAILABLE}, within {@link #DELIVERY_TIMEOUT} when no broker
 * acknowledged. One producer per broker list; a changed list gets a new producer and the old one is flushed and
 * closed. Thread-safe.
 */
public final class EventPublisher {
    /** The longest a send may take, blocked on metadata or waiting for acknowledgements, before it fails. */
    public static final Duration DELIVERY_TIMEOUT = Duration.ofSeconds(10);
    private static final Logger LOG = LoggerFactory.getLogger(EventPublisher.class);

    private final ActorSystem<?> system;
    private final Supplier<String> bootstrap;
    /** Written under the lock; read without it on every send while the broker list is unchanged. */
    private volatile Connected connected;

    private record Connected(String bootstrap, SendProducer<byte[], byte[]> producer) {
    }

    /**
     * A publisher to the brokers {@code bootstrap} names at the time of each send.
     *
     * @param bootstrap HOST:PORT[,HOST:PORT...], or empty when no broker is configured
     */
    public EventPublisher(ActorSystem<?> system, Supplier<String> bootstrap) {
        this.system = system;
        this.bootstrap = bootstrap;
    }

    /** Sends {@code record}; completes with its partition and offset once the brokers acknowledged it. */
    public CompletionStage<RecordMetadata> send(ProducerRecord<byte[], byte[]> record) {
        SendProducer<byte[], byte[]> producer;
        try {
            producer = producer();
        } catch (ProxyException e) {
            return CompletableFuture.failedFuture(e);
        }
        CompletableFuture<RecordMetadata> result = new CompletableFuture<>();
        PekkoFutures.direct(producer.send(record)).whenComplete((metadata, error) -> {
            if (error == null) {
                result.complete(metadata);
            } else {
                result.completeExceptionally(failure(record.topic(), error));
            }
        });
        return result;
    }

    /** Flushes and closes the producer (sends in flight complete first). */
    public synchronized CompletionStage<Done> close() {
        Connected current = connected;
        connected = null;
        return current == null ? CompletableFuture.completedFuture(Done.getInstance()) : current.producer().close();
    }

    private SendProducer<byte[], byte[]> producer() {
        Connected current = connected;
        return current != null && current.bootstrap().equals(bootstrap.get()) ? current.producer() : reconnect();
    }

    private synchronized SendProducer<byte[], byte[]> reconnect() {
        String brokers = bootstrap.get();
        if (brokers.isEmpty()) {
            throw new ProxyException(ProxyError.BROKER_UNAVAILABLE, "no Kafka brokers are configured (MeshConfig"
                    + " spec.kafka.bootstrapServers, or the sidecar's --kafka-bootstrap)");
        }
        if (connected != null && connected.bootstrap().equals(brokers)) {
            return connected.producer();
        }
        if (connected != null) {
            LOG.info("Kafka brokers changed from {} to {}: replacing the producer", connected.bootstrap(), brokers);
            connected.producer().close();
        }
        connected = new Connected(brokers, new SendProducer<>(settings(system, brokers), system));
        return connected.producer();
    }

    /** Producer settings for at-least-once publishing within a small heap. */
    static ProducerSettings<byte[], byte[]> settings(ActorSystem<?> system, String brokers) {
        return ProducerSettings.create(system, new ByteArraySerializer(), new ByteArraySerializer())
                .withBootstrapServers(brokers)
                .withProperty(ProducerConfig.ACKS_CONFIG, "all")
                .withProperty(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true")
                .withProperty(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "5")
                .withProperty(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, Long.toString(DELIVERY_TIMEOUT.toMillis()))
                .withProperty(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000")
                .withProperty(ProducerConfig.MAX_BLOCK_MS_CONFIG, "5000")
                .withProperty(ProducerConfig.LINGER_MS_CONFIG, "1")
                // The sidecar runs in a 64 MiB heap: 4 MiB of unsent records at most (senders wait, then fail).
                .withProperty(ProducerConfig.BUFFER_MEMORY_CONFIG, Integer.toString(4 * 1024 * 1024))
                .withProperty(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(PublishEndpoint.MAX_EVENT_BYTES + 64 * 1024));
    }

    private static ProxyException failure(String topic, Throwable error) {
        Throwable cause = Causes.unwrap(error);
        if (cause instanceof ProxyException proxy) {
            return proxy;
        }
        if (cause instanceof RecordTooLargeException) {
            return new ProxyException(ProxyError.PAYLOAD_TOO_LARGE, "the broker refused the event as too large for " + topic, cause);
        }
        if (cause instanceof InvalidTopicException) {
            return new ProxyException(ProxyError.BAD_REQUEST, "topic: the broker refused '" + topic + "' (" + cause.getMessage() + ")", cause);
        }
        if (cause instanceof AuthorizationException) {
            return new ProxyException(ProxyError.DENIED, "the broker refused this sidecar's write to " + topic, cause);
        }
        return new ProxyException(ProxyError.BROKER_UNAVAILABLE, "no broker acknowledged the event for " + topic + " within "
                + DELIVERY_TIMEOUT.toSeconds() + " s (" + cause.getClass().getSimpleName() + ": " + cause.getMessage()
                + "); it may or may not have been written, so a retry may duplicate it", cause);
    }
}
