package io.trellis.sidecar.kafka;

import io.trellis.sidecar.config.Backoff;
import io.trellis.sidecar.config.Subscription;
import io.trellis.sidecar.errors.Causes;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.resilience.RequestTimeout;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import io.trellis.sidecar.transport.netty.AppClient;
import io.trellis.sidecar.transport.PekkoFutures;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.stream.Materializer;

/**
 * Delivers one event of a subscription to the app by HTTP POST and decides what happens next: a 2xx delivers it;
 * a 5xx, 408, 429, a broken connection or no answer within the delivery timeout is retried with full-jitter
 * backoff up to the subscription's attempts, then dead-lettered ({@code exhausted}); any other 4xx is
 * dead-lettered at once ({@code rejected}). An app that is not listening at all is not the event's fault: that is
 * retried until the app is back (or the sidecar drains), never dead-lettered. The returned stage completes when
 * the event is delivered or dead-lettered, so the caller may then commit its offset. Thread-safe.
 */
final class EventDelivery {
    private final ActorSystem<?> system;
    private final Materializer materializer;
    private final AppClient app;
    private final int appPort;
    private final Subscription subscription;
    private final DeadLetters deadLetters;
    private final ProxyMetrics metrics;
    private final Backoff backoff;
    private final AtomicLong inFlight;
    private final RequestTimeout timeout;

    EventDelivery(ActorSystem<?> system, AppClient app, int appPort, Subscription subscription, DeadLetters deadLetters,
            ProxyMetrics metrics, Backoff backoff) {
        this.system = system;
        this.materializer = Materializer.matFromSystem(system);
        this.app = app;
        this.appPort = appPort;
        this.subscription = subscription;
        this.deadLetters = deadLetters;
        this.metrics = metrics;
        this.backoff = backoff;
        this.inFlight = metrics.deliveriesInFlight(subscription.name());
        this.timeout = new RequestTimeout(system.scheduler(), materializer);
    }

    /** Delivers {@code record}; completes once it is delivered or dead-lettered, never with a failure. */
    CompletionStage<Done> deliver(ConsumerRecord<byte[], byte[]> record) {
        inFlight.incrementAndGet();
        CompletableFuture<Done> done = new CompletableFuture<>();
        attempt(record, 1, 0, done);
        return done.whenComplete((x, e) -> inFlight.decrementAndGet());
    }

    /**
     * @param attempt the 1-based attempt that counts against the retry limit
     * @param waits how many times in a row this event already waited (for the app to listen, or to retry)
     */
    private void attempt(ConsumerRecord<byte[], byte[]> record, int attempt, int waits, CompletableFuture<Done> done) {
        post(record, attempt).whenComplete((response, error) -> {
            if (error == null && response.status().isSuccess()) {
                metrics.delivered(subscription.name());
                done.complete(Done.getInstance());
                return;
            }
            if (Causes.unwrap(error) instanceof ProxyException proxy && proxy.error() == ProxyError.UPSTREAM_CONNECT_FAILURE) {
                // The app is not listening (starting, restarting): wait for it without spending an attempt.
                later(waits, () -> attempt(record, attempt, waits + 1, done));
                return;
            }
            String lastError = error != null ? describe(error) : "HTTP " + response.status().intValue();
            boolean retriable = error != null || retriable(response.status().intValue());
            if (!retriable) {
                deadLetter(record, attempt, "rejected", lastError, done);
            } else if (attempt > subscription.attempts()) {
                deadLetter(record, attempt, "exhausted", lastError, done);
            } else {
                metrics.deliveryRetried(subscription.name());
                later(attempt - 1, () -> attempt(record, attempt + 1, 0, done));
            }
        });
    }

    private CompletionStage<HttpResponse> post(ConsumerRecord<byte[], byte[]> record, int attempt) {
        // Origin-form with Host (AppClient sends the authority it is given), as any client sends it: apps that route
        // on the raw target (Python's http.server, many embedded servers) would see an absolute-form target as a wrong
        // path.
        HttpRequest request = HttpRequest.create(subscription.path()).withMethod(HttpMethods.POST)
                .addHeaders(headers(record, attempt))
                .withEntity(HttpEntities.create(contentType(record), record.value() == null ? new byte[0] : record.value()));
        CompletableFuture<Void> abandoned = new CompletableFuture<>();
        CompletableFuture<HttpResponse> answered = new CompletableFuture<>();
        timeout.within(subscription.deliveryTimeout(), "the app", () -> app.http1(request, "127.0.0.1:" + appPort, abandoned)).whenComplete((response, error) -> {
            if (error != null) {
                // On a timeout the connection is closed, so the app sees its caller leave.
                abandoned.complete(null);
                answered.completeExceptionally(error);
                return;
            }
            // The body is not needed: drain it so the connection can carry the next event. (Pekko's own futures
            // would run the callback on a new thread each time: PekkoFutures.direct.)
            PekkoFutures.direct(response.discardEntityBytes(materializer).completionStage())
                    .whenComplete((x, e) -> answered.complete(response));
        });
        return answered;
    }

    private void deadLetter(ConsumerRecord<byte[], byte[]> record, int attempts, String reason, String lastError,
            CompletableFuture<Done> done) {
        deadLetters.write(subscription, record, attempts, reason, lastError).whenComplete((x, e) -> {
            metrics.deadLettered(subscription.name(), reason);
            done.complete(Done.getInstance());
        });
    }

    private void later(int retry, Runnable next) {
        Duration wait = backoff.delay(retry);
        system.scheduler().scheduleOnce(wait, next, system.executionContext());
    }

    /** 5xx, 408 (timeout) and 429 (overloaded) say "later"; other statuses say "never". */
    static boolean retriable(int status) {
        return status >= 500 || status == 408 || status == 429;
    }

    private List<HttpHeader> headers(ConsumerRecord<byte[], byte[]> record, int attempt) {
        List<HttpHeader> headers = new ArrayList<>(List.of(
                RawHeader.create("trellis-subscription", subscription.name()),
                RawHeader.create("trellis-topic", record.topic()),
                RawHeader.create("trellis-partition", Integer.toString(record.partition())),
                RawHeader.create("trellis-offset", Long.toString(record.offset())),
                RawHeader.create("trellis-delivery-attempt", Integer.toString(attempt))));
        if (record.key() != null) {
            headers.add(RawHeader.create("trellis-key", printable(record.key())));
        }
        return headers;
    }

    private static ContentType contentType(ConsumerRecord<byte[], byte[]> record) {
        Header header = record.headers().lastHeader("content-type");
        if (header == null) {
            return ContentTypes.APPLICATION_OCTET_STREAM;
        }
        try {
            return org.apache.pekko.http.javadsl.model.ContentTypes.parse(new String(header.value(), StandardCharsets.UTF_8));
        } catch (RuntimeException e) {
            return ContentTypes.APPLICATION_OCTET_STREAM;
        }
    }

    /** The key as header text: UTF-8 when it is printable, else hex. */
    private static String printable(byte[] key) {
        String text = new String(key, StandardCharsets.UTF_8);
        if (text.chars().allMatch(c -> c >= 0x20 && c < 0x7f)) {
            return text;
        }
        StringBuilder hex = new StringBuilder("hex:");
        for (byte b : key) {
            hex.append(String.format("%02x", b));
        }
        return hex.toString();
    }

    private static String describe(Throwable error) {
        Throwable cause = Causes.unwrap(error);
        return cause instanceof ProxyException proxy ? proxy.error().code() + ": " + proxy.getMessage()
                : cause.getClass().getSimpleName() + ": " + cause.getMessage();
    }
}
