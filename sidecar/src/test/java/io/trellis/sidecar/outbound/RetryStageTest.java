package io.trellis.sidecar.outbound;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.certs.SpiffeId;
import io.trellis.sidecar.config.Cluster;
import io.trellis.sidecar.config.ClusterPolicy;
import io.trellis.sidecar.config.Endpoint;
import io.trellis.sidecar.config.RouteRule;
import io.trellis.sidecar.config.ServiceName;
import io.trellis.sidecar.errors.ErrorResponses;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.pipeline.RequestContext;
import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.resilience.ManualTicker;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.util.ByteString;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** The retry decisions, with Pekko's manual scheduler and a manual ticker: no sleeps, no real upstream. */
class RetryStageTest {
    private static final ActorTestKit KIT = ActorTestKit.create(ManualTime.config());
    private static final ManualTime TIME = ManualTime.get(KIT.system());
    private static final Endpoint A = endpoint("10.0.0.1");
    private static final Endpoint B = endpoint("10.0.0.2");

    private final ManualTicker ticker = new ManualTicker();
    private final ProxyMetrics metrics = new ProxyMetrics();
    private final Deque<Supplier<CompletionStage<HttpResponse>>> upstream = new ArrayDeque<>();
    private final AtomicInteger attempts = new AtomicInteger();

    @AfterAll
    static void stopKit() {
        KIT.shutdownTestKit();
    }

    @Test
    void retriesAnIdempotentRequestAfterTheBackoff() throws Exception {
        upstream.add(() -> status(503));
        upstream.add(() -> status(200));
        OutboundCall call = call(HttpMethods.GET, policy(2, 0.2, 10, false));

        CompletableFuture<HttpResponse> result = run(call);
        TIME.timePasses(Duration.ofMillis(250));

        assertThat(result.get(5, TimeUnit.SECONDS).status().intValue()).isEqualTo(200);
        assertThat(attempts.get()).isEqualTo(2);
        assertThat(call.context().retryNote()).isEqualTo("attempts=2");
    }

    @Test
    void neverRetriesAPostThatMayHaveReachedTheApp() throws Exception {
        upstream.add(() -> status(503));
        OutboundCall call = call(HttpMethods.POST, policy(2, 0.2, 10, false));

        HttpResponse response = run(call).get(5, TimeUnit.SECONDS);

        assertThat(response.status().intValue()).isEqualTo(503);
        assertThat(attempts.get()).isEqualTo(1);
        assertThat(call.context().retryNote()).isEqualTo("attempts=1; skipped=non-idempotent");
    }

    @Test
    void retriesAPostThatNeverReachedTheApp() throws Exception {
        upstream.add(() -> CompletableFuture.failedFuture(new ProxyException(ProxyError.UPSTREAM_CONNECT_FAILURE, "refused")));
        upstream.add(() -> status(200));
        OutboundCall call = call(HttpMethods.POST, policy(2, 0.2, 10, false));

        CompletableFuture<HttpResponse> result = run(call);
        TIME.timePasses(Duration.ofMillis(250));

        assertThat(result.get(5, TimeUnit.SECONDS).status().intValue()).isEqualTo(200);
    }

    @Test
    void aSpentBudgetIsNamedAndFailsWithItsOwnCode() {
        upstream.add(() -> CompletableFuture.failedFuture(new ProxyException(ProxyError.UPSTREAM_RESET, "reset")));
        OutboundCall call = call(HttpMethods.GET, policy(2, 0, 0, false));

        CompletableFuture<HttpResponse> result = run(call);

        assertThat(result).isCompletedExceptionally();
        assertThat(ErrorResponses.asProxyException(result.handle((r, e) -> e).join()).error())
                .isEqualTo(ProxyError.RETRY_BUDGET_EXHAUSTED);
        assertThat(call.context().retryNote()).isEqualTo("attempts=1; skipped=budget");
    }

    @Test
    void noRetryWhoseWaitWouldPassTheDeadline() throws Exception {
        upstream.add(() -> status(503, "Retry-After", "5"));
        OutboundCall call = call(HttpMethods.GET, policy(2, 0.2, 10, false))
                .withDeadline(ticker.getAsLong() + Duration.ofSeconds(2).toNanos());

        HttpResponse response = run(call).get(5, TimeUnit.SECONDS);

        assertThat(response.status().intValue()).isEqualTo(503);
        assertThat(call.context().retryNote()).isEqualTo("attempts=1; skipped=deadline");
    }

    @Test
    void waitsAsLongAsTheUpstreamAsks() throws Exception {
        upstream.add(() -> status(503, "grpc-retry-pushback-ms", "1500"));
        upstream.add(() -> status(200));
        OutboundCall call = call(HttpMethods.GET, policy(2, 0.2, 10, false));

        CompletableFuture<HttpResponse> result = run(call);
        TIME.timePasses(Duration.ofMillis(1400));
        assertThat(attempts.get()).isEqualTo(1);
        TIME.timePasses(Duration.ofMillis(100));

        assertThat(result.get(5, TimeUnit.SECONDS).status().intValue()).isEqualTo(200);
        assertThat(attempts.get()).isEqualTo(2);
    }

    @Test
    void stopsAfterTheConfiguredAttempts() throws Exception {
        for (int i = 0; i < 5; i++) {
            upstream.add(() -> status(503));
        }
        OutboundCall call = call(HttpMethods.GET, policy(2, 1, 100, false));

        CompletableFuture<HttpResponse> result = run(call);
        // The second attempt runs on the dispatcher and schedules the third itself: advance time only once it has.
        advanceUntil(() -> result.isDone());

        assertThat(result.get(5, TimeUnit.SECONDS).status().intValue()).isEqualTo(503);
        assertThat(attempts.get()).isEqualTo(3);
        assertThat(call.context().retryNote()).isEqualTo("attempts=3");
    }

    @Test
    void aChunkedBodyReadByAnAttemptThatNeverReachedTheAppIsSentAgainWhole() throws Exception {
        List<String> bodies = new java.util.concurrent.CopyOnWriteArrayList<>();
        Materializer materializer = Materializer.matFromSystem(KIT.system());
        RetryStage stage = new RetryStage(KIT.system().scheduler(), materializer, metrics, ticker, () -> 0.99);
        Stage.Next<OutboundCall> next = attempt -> {
            // Each attempt reads the whole body, as the peer connection does, before the peer answers.
            return attempt.request().entity().toStrict(5_000, materializer).thenCompose(strict -> {
                bodies.add(strict.getData().utf8String());
                return attempts.incrementAndGet() == 1
                        ? CompletableFuture.failedFuture(new ProxyException(ProxyError.UPSTREAM_CONNECT_FAILURE, "refused by the app"))
                        : status(200);
            });
        };
        OutboundCall call = call(HttpMethods.POST, policy(2, 0.2, 10, false));
        call = call.withRequest(call.request().withEntity(HttpEntities.createChunked(ContentTypes.APPLICATION_OCTET_STREAM,
                Source.from(List.of(ByteString.fromString("one,"), ByteString.fromString("two"))))));

        CompletableFuture<HttpResponse> result = stage.apply(call, next).toCompletableFuture();
        advanceUntil(result::isDone);

        assertThat(result.get(5, TimeUnit.SECONDS).status().intValue()).isEqualTo(200);
        assertThat(bodies).containsExactly("one,two", "one,two");
    }

    @Test
    void aBodyWithoutLengthFlowsBeforeItEnds() throws Exception {
        // A gRPC stream that sends one message and waits for the answer: nothing may wait for the body to end.
        CompletableFuture<String> firstChunk = new CompletableFuture<>();
        Materializer materializer = Materializer.matFromSystem(KIT.system());
        RetryStage stage = new RetryStage(KIT.system().scheduler(), materializer, metrics, ticker, () -> 0.99);
        Stage.Next<OutboundCall> next = attempt -> {
            attempt.request().entity().getDataBytes().runWith(Sink.head(), materializer)
                    .thenAccept(chunk -> firstChunk.complete(chunk.utf8String()));
            return new CompletableFuture<>();
        };
        OutboundCall call = call(HttpMethods.POST, policy(2, 0.2, 10, false));
        call = call.withRequest(call.request().withEntity(HttpEntities.createChunked(ContentTypes.APPLICATION_OCTET_STREAM,
                Source.single(ByteString.fromString("hello")).concat(Source.maybe()))));

        stage.apply(call, next);

        assertThat(firstChunk.get(5, TimeUnit.SECONDS)).isEqualTo("hello");
    }

    /** Moves the manual clock past every backoff (at most 250 ms) until {@code done}, within 5 s of real time. */
    private static void advanceUntil(BooleanSupplier done) {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!done.getAsBoolean()) {
            assertThat(System.nanoTime()).as("done within 5 s").isLessThan(until);
            TIME.timePasses(Duration.ofMillis(300));
            Thread.onSpinWait();
        }
    }

    private CompletableFuture<HttpResponse> run(OutboundCall call) {
        RetryStage stage = new RetryStage(KIT.system().scheduler(), Materializer.matFromSystem(KIT.system()), metrics,
                ticker, () -> 0.99);
        Stage.Next<OutboundCall> next = attempt -> {
            attempts.incrementAndGet();
            return upstream.isEmpty() ? status(200) : upstream.poll().get();
        };
        return stage.apply(call, next).toCompletableFuture();
    }

    private OutboundCall call(org.apache.pekko.http.javadsl.model.HttpMethod method, ClusterPolicy.Retries retries) {
        ClusterPolicy d = ClusterPolicy.DEFAULTS;
        Cluster cluster = new Cluster(new ServiceName("echo", "default"), false, false, "", List.of(A, B),
                new ClusterPolicy(d.timeouts(), retries, d.limits(), d.outlier(), d.breaker(), d.balancer()));
        RequestContext context = new RequestContext("outbound", "req-1", ticker.getAsLong(), "echo");
        ClusterRuntime runtime = new ClusterRuntime(KIT.system(), cluster, metrics, ticker);
        RouteRule rule = RouteRule.catchAll();
        return OutboundCall.arrived(HttpRequest.create("/echo").withMethod(method), context, new java.util.concurrent.CompletableFuture<>(), null, null)
                .routed(cluster, rule, rule.backends().get(0), runtime)
                .withDeadline(ticker.getAsLong() + Duration.ofSeconds(15).toNanos());
    }

    private static ClusterPolicy.Retries policy(int attempts, double ratio, int minPerSecond, boolean nonIdempotent) {
        return new ClusterPolicy.Retries(attempts, null, Set.of("connect-failure", "reset", "503"), Duration.ofMillis(25),
                Duration.ofMillis(250), ratio, minPerSecond, nonIdempotent, 64 * 1024);
    }

    private static CompletionStage<HttpResponse> status(int code, String... header) {
        HttpResponse response = HttpResponse.create().withStatus(code);
        if (header.length == 2) {
            response = response.addHeader(RawHeader.create(header[0], header[1]));
        }
        return CompletableFuture.completedFuture(response);
    }

    private static Endpoint endpoint(String address) {
        return Endpoint.of(address, 15006, SpiffeId.parse("spiffe://cluster.local/ns/default/sa/echo"), Map.of(), 1);
    }
}
