package io.trellis.e2e.app;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.ToIntFunction;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.japi.function.Function;

/**
 * A subscriber app for tests: records every event a sidecar POSTs to it (body, headers, arrival order) and the
 * most deliveries it had in flight at once, and answers each with the status its rule picks, after a delay.
 */
public final class EventSink implements AutoCloseable {
    /** One delivery as the app saw it; header names are lower case. */
    public record Delivery(String path, String body, Map<String, String> headers) {
        /** A header ({@code trellis-topic}...), or null. */
        public String header(String name) {
            return headers.get(name);
        }

        /** {@code trellis-partition} as a number. */
        public int partition() {
            return Integer.parseInt(headers.get("trellis-partition"));
        }

        /** {@code trellis-offset} as a number. */
        public long offset() {
            return Long.parseLong(headers.get("trellis-offset"));
        }
    }

    private final ActorSystem<?> system;
    private final ConcurrentLinkedQueue<Delivery> deliveries = new ConcurrentLinkedQueue<>();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger maxInFlight = new AtomicInteger();
    private volatile Duration delay = Duration.ZERO;
    private volatile ToIntFunction<Delivery> rule = delivery -> 200;
    private ServerBinding binding;

    private EventSink(ActorSystem<?> system) {
        this.system = system;
    }

    /** Starts a sink on 127.0.0.1 (a free port) answering 200 at once. */
    public static EventSink start(ActorSystem<?> system) throws Exception {
        EventSink sink = new EventSink(system);
        sink.binding = Http.get(system).newServerAt("127.0.0.1", 0)
                .bind((Function<HttpRequest, CompletionStage<HttpResponse>>) sink::handle)
                .toCompletableFuture().get();
        return sink;
    }

    /** Answers every delivery {@code value} after it arrived. */
    public EventSink delay(Duration value) {
        this.delay = value;
        return this;
    }

    /** Answers each delivery with the status {@code statusRule} picks. */
    public EventSink answer(ToIntFunction<Delivery> statusRule) {
        this.rule = statusRule;
        return this;
    }

    /** The port it listens on. */
    public int port() {
        return binding.localAddress().getPort();
    }

    /** Every delivery so far, in arrival order. */
    public List<Delivery> deliveries() {
        return List.copyOf(deliveries);
    }

    /** How many deliveries arrived so far. */
    public int count() {
        return deliveries.size();
    }

    /** The most deliveries in flight at once so far. */
    public int maxInFlight() {
        return maxInFlight.get();
    }

    private CompletionStage<HttpResponse> handle(HttpRequest request) {
        maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
        return request.entity().toStrict(10_000, system).thenCompose(body -> {
            Map<String, String> headers = new HashMap<>();
            for (HttpHeader header : request.getHeaders()) {
                headers.put(header.lowercaseName(), header.value());
            }
            headers.put("content-type", body.getContentType().toString());
            Delivery delivery = new Delivery(request.getUri().path(), body.getData().utf8String(), Map.copyOf(headers));
            HttpResponse response = HttpResponse.create().withStatus(rule.applyAsInt(delivery));
            deliveries.add(delivery);
            // The JDK's delayed executor keeps millisecond delays (Pekko's scheduler ticks every 10 ms).
            CompletionStage<HttpResponse> answer = delay.isZero() ? CompletableFuture.completedFuture(response)
                    : CompletableFuture.supplyAsync(() -> response,
                            CompletableFuture.delayedExecutor(delay.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS));
            return answer.whenComplete((r, e) -> inFlight.decrementAndGet());
        });
    }

    @Override
    public void close() {
        binding.unbind();
    }
}
