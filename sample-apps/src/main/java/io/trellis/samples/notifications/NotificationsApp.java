package io.trellis.samples.notifications;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.japi.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The notifications sample: a Kafka subscriber without a Kafka client. Its sidecar consumes the {@code orders}
 * topic (a Subscription resource) and POSTs each CloudEvent to {@code /events}; a 200 tells the sidecar to commit.
 * Usage: {@code NotificationsApp PORT [--record FILE] [--delay-ms N]}: {@code --record} appends one line per
 * event ({@code id topic partition offset}) before answering, {@code --delay-ms} answers that much later (a slow
 * app).
 */
public final class NotificationsApp {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Logger LOG = LoggerFactory.getLogger(NotificationsApp.class);

    private final ActorSystem<?> system;
    private final FileOutputStream record;
    private final Duration delay;

    private NotificationsApp(ActorSystem<?> system, FileOutputStream record, Duration delay) {
        this.system = system;
        this.record = record;
        this.delay = delay;
    }

    private CompletionStage<HttpResponse> handle(HttpRequest request) {
        if (!request.getUri().path().equals("/events") || !request.method().equals(HttpMethods.POST)) {
            request.discardEntityBytes(system);
            return CompletableFuture.completedFuture(HttpResponse.create().withStatus(StatusCodes.NOT_FOUND));
        }
        return request.entity().toStrict(10_000, system).thenCompose(body -> {
            JsonNode event;
            try {
                event = JSON.readTree(body.getData().toArray());
            } catch (IOException e) {
                return CompletableFuture.completedFuture(HttpResponse.create().withStatus(StatusCodes.BAD_REQUEST));
            }
            String line = event.path("id").asText() + " " + header(request, "trellis-topic") + " "
                    + header(request, "trellis-partition") + " " + header(request, "trellis-offset") + "\n";
            if (record != null) {
                append(line);
            } else {
                JsonNode order = event.path("data");
                LOG.info("notify: order {} of {} x {} ({} cents), from {}", order.path("orderId").asText(),
                        order.path("quantity").asInt(), order.path("sku").asText(), order.path("totalCents").asLong(),
                        event.path("source").asText());
            }
            HttpResponse ok = HttpResponse.create().withStatus(StatusCodes.OK);
            // The JDK's delayed executor keeps millisecond delays (Pekko's scheduler ticks every 10 ms).
            return delay.isZero() ? CompletableFuture.completedFuture(ok)
                    : CompletableFuture.supplyAsync(() -> ok, CompletableFuture.delayedExecutor(delay.toNanos(),
                            java.util.concurrent.TimeUnit.NANOSECONDS));
        });
    }

    /** One write per event, before the 200: what a 200 acknowledged is in the file even if this process is killed. */
    private synchronized void append(String line) {
        try {
            record.write(line.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String header(HttpRequest request, String name) {
        return request.getHeader(name).map(h -> h.value()).orElse("-");
    }

    /** Starts on 127.0.0.1:{@code args[0]}. */
    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(args[0]);
        FileOutputStream record = null;
        Duration delay = Duration.ZERO;
        for (int i = 1; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--record" -> record = new FileOutputStream(args[i + 1], true);
                case "--delay-ms" -> delay = Duration.ofMillis(Long.parseLong(args[i + 1]));
                default -> throw new IllegalArgumentException("unknown flag " + args[i] + " (expected --record or --delay-ms)");
            }
        }
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "notifications");
        NotificationsApp app = new NotificationsApp(system, record, delay);
        Http.get(system).newServerAt("127.0.0.1", port)
                .bind((Function<HttpRequest, CompletionStage<HttpResponse>>) app::handle)
                .thenAccept(binding -> LOG.info("notifications (Kafka subscriber) listening on {}", binding.localAddress()));
    }
}
