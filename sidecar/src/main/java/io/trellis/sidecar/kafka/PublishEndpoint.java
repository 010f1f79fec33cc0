package io.trellis.sidecar.kafka;

import io.trellis.certs.SpiffeId;
import io.trellis.sidecar.config.PublishPolicy;
import io.trellis.sidecar.config.TopicName;
import io.trellis.sidecar.errors.Causes;
import io.trellis.sidecar.errors.ErrorResponses;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import io.trellis.sidecar.telemetry.TraceHeaders;
import io.trellis.sidecar.transport.PekkoFutures;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.util.ByteString;
import org.apache.pekko.util.ByteStringBuilder;

/**
 * {@code POST /v1/publish/{topic}[?key=K]} on the local API: wraps the body in a {@link CloudEvent} whose source
 * is this workload's SPIFFE ID and answers 204 (with {@code trellis-event-id}) only after the brokers acknowledged
 * it. Every refusal names its cause: bad topic or body ({@code bad-request}), a TopicPolicy ({@code denied}), too
 * large ({@code payload-too-large}), no broker in time ({@code broker-unavailable}). Thread-safe.
 */
public final class PublishEndpoint {
    /** The largest event body accepted (Kafka's default record limit is 1 MiB; the envelope needs room). */
    public static final int MAX_EVENT_BYTES = 900 * 1024;
    /** The CloudEvents {@code type} when the app sends no {@code ce-type} header. */
    public static final String DEFAULT_TYPE = "io.trellis.event.published";
    private static final Duration BODY_TIMEOUT = Duration.ofSeconds(30);

    private final EventPublisher publisher;
    private final SpiffeId source;
    private final Supplier<PublishPolicy> policy;
    private final ProxyMetrics metrics;
    private final Clock clock;
    private final Materializer materializer;

    /**
     * An endpoint publishing as {@code source}.
     *
     * @param policy the current publish policy (from the latest snapshot)
     */
    public PublishEndpoint(ActorSystem<?> system, EventPublisher publisher, SpiffeId source, Supplier<PublishPolicy> policy,
            ProxyMetrics metrics, Clock clock) {
        this.publisher = publisher;
        this.source = source;
        this.policy = policy;
        this.metrics = metrics;
        this.clock = clock;
        this.materializer = Materializer.matFromSystem(system);
    }

    /** Publishes the body of {@code request} to {@code topic}. */
    public CompletionStage<HttpResponse> publish(HttpRequest incoming, String topic) {
        HttpRequest request = TraceHeaders.ensure(incoming);
        String requestId = TraceHeaders.requestId(request);
        CompletionStage<HttpResponse> answer;
        try {
            check(request, topic);
            answer = readBody(request)
                    .thenCompose(body -> send(request, topic, body, request.entity().getContentType().toString()))
                    .thenApply(eventId -> HttpResponse.create().withStatus(StatusCodes.NO_CONTENT)
                            .addHeader(RawHeader.create("trellis-event-id", eventId))
                            .addHeader(RawHeader.create(TraceHeaders.REQUEST_ID, requestId)));
        } catch (ProxyException e) {
            // Refused before reading: the body is still read (and dropped) so the caller gets the answer, not a reset.
            request.discardEntityBytes(materializer);
            answer = CompletableFuture.failedFuture(e);
        }
        return answer.exceptionally(error -> {
            ProxyException failure = asFailure(error);
            // An invalid name is not a metric label: any string would make a new series.
            metrics.publishFailed(TopicName.isValid(topic) ? topic : "(invalid)", failure.error().code());
            return ErrorResponses.respond(request, failure, topic, requestId);
        });
    }

    private void check(HttpRequest request, String topic) {
        if (!request.method().equals(HttpMethods.POST)) {
            throw new ProxyException(ProxyError.BAD_REQUEST, "method: " + request.method().value() + " (expected POST)");
        }
        if (!TopicName.isValid(topic) || TopicName.isInternal(topic)) {
            throw new ProxyException(ProxyError.BAD_REQUEST, "topic: '" + topic + "' (expected " + TopicName.RULE
                    + ", not starting with __)");
        }
        if (!policy.get().allows(topic)) {
            throw new ProxyException(ProxyError.DENIED, source + " may not publish to " + topic + " (TopicPolicy)");
        }
    }

    /**
     * The body, read to the end even when it is too large (only the first {@link #MAX_EVENT_BYTES} are kept), so
     * the caller gets a clean 413 rather than a reset stream.
     */
    private CompletionStage<byte[]> readBody(HttpRequest request) {
        if (request.entity() instanceof HttpEntity.Strict strict) {
            // Small bodies usually arrive whole with the headers: no stream to run.
            return CompletableFuture.supplyAsync(() -> new BoundedBody().add(strict.getData()).bytes(), Runnable::run);
        }
        return PekkoFutures.direct(request.entity().getDataBytes().completionTimeout(BODY_TIMEOUT)
                        .runFold(new BoundedBody(), BoundedBody::add, materializer))
                .thenApply(BoundedBody::bytes);
    }

    /** Collects up to {@link #MAX_EVENT_BYTES}, then only counts. */
    private static final class BoundedBody {
        private final ByteStringBuilder kept = new ByteStringBuilder();
        private long size;

        BoundedBody add(ByteString chunk) {
            size += chunk.size();
            if (size <= MAX_EVENT_BYTES) {
                kept.append(chunk);
            }
            return this;
        }

        byte[] bytes() {
            if (size > MAX_EVENT_BYTES) {
                throw new ProxyException(ProxyError.PAYLOAD_TOO_LARGE, "body: " + size + " bytes (expected at most "
                        + MAX_EVENT_BYTES + ")");
            }
            return kept.result().toArray();
        }
    }

    private CompletionStage<String> send(HttpRequest request, String topic, byte[] body, String contentType) {
        String id = UUID.randomUUID().toString();
        String type = request.getHeader("ce-type").map(h -> h.value().strip()).filter(t -> !t.isEmpty()).orElse(DEFAULT_TYPE);
        String dataContentType = contentType.equals("none/none") ? "application/octet-stream" : contentType;
        byte[] envelope;
        try {
            envelope = new CloudEvent(id, source.toString(), type, clock.instant(), dataContentType,
                    TraceHeaders.traceparent(request), TraceHeaders.requestId(request), body).toJson();
        } catch (IllegalArgumentException e) {
            throw new ProxyException(ProxyError.BAD_REQUEST, e.getMessage());
        }
        byte[] key = request.getUri().query().get("key").map(k -> k.getBytes(StandardCharsets.UTF_8)).orElse(null);
        ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(topic, key, envelope);
        record.headers().add(new RecordHeader("content-type", CloudEvent.MEDIA_TYPE.getBytes(StandardCharsets.UTF_8)));
        return publisher.send(record).thenApply(metadata -> {
            metrics.published(topic);
            return id;
        });
    }

    private static ProxyException asFailure(Throwable error) {
        Throwable cause = Causes.unwrap(error);
        if (cause instanceof java.util.concurrent.TimeoutException) {
            return new ProxyException(ProxyError.BAD_REQUEST, "body: not received within " + BODY_TIMEOUT.toSeconds() + " s");
        }
        return ErrorResponses.asProxyException(cause);
    }
}
