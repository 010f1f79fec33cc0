package io.trellis.sidecar.outbound;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.sidecar.config.Cluster;
import io.trellis.sidecar.config.ClusterPolicy;
import io.trellis.sidecar.config.RouteRule;
import io.trellis.sidecar.config.ServiceName;
import io.trellis.sidecar.pipeline.RequestContext;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.stream.Materializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** Fault injection with Pekko's manual scheduler and a scripted random source. */
class FaultStageTest {
    private static final ActorTestKit KIT = ActorTestKit.create(ManualTime.config());
    private static final ManualTime TIME = ManualTime.get(KIT.system());

    private final AtomicInteger calls = new AtomicInteger();

    @AfterAll
    static void stopKit() {
        KIT.shutdownTestKit();
    }

    @Test
    void delaysItsShareOfRequestsOnTheScheduler() throws Exception {
        FaultStage stage = stage(0.05);   // draws 5: under 10% delayed
        CompletableFuture<HttpResponse> result = stage.apply(call(new RouteRule.Fault(10, Duration.ofSeconds(5), 0, 503)),
                c -> {
                    calls.incrementAndGet();
                    return CompletableFuture.completedFuture(HttpResponse.create());
                }).toCompletableFuture();

        TIME.timePasses(Duration.ofSeconds(4));
        assertThat(calls.get()).isZero();
        TIME.timePasses(Duration.ofSeconds(1));

        assertThat(result.get(5, TimeUnit.SECONDS).status().intValue()).isEqualTo(200);
        assertThat(calls.get()).isEqualTo(1);
    }

    @Test
    void abortsItsShareWithoutCallingTheService() throws Exception {
        HttpResponse response = stage(0.04).apply(call(new RouteRule.Fault(0, Duration.ZERO, 5, 500)), c -> {
            calls.incrementAndGet();
            return CompletableFuture.completedFuture(HttpResponse.create());
        }).toCompletableFuture().get(5, TimeUnit.SECONDS);

        assertThat(response.status().intValue()).isEqualTo(500);
        assertThat(response.getHeader("trellis-fault").map(h -> h.value())).contains("abort");
        assertThat(calls.get()).isZero();
    }

    @Test
    void leavesTheRestAlone() throws Exception {
        HttpResponse response = stage(0.5).apply(call(new RouteRule.Fault(10, Duration.ofSeconds(5), 5, 500)), c -> {
            calls.incrementAndGet();
            return CompletableFuture.completedFuture(HttpResponse.create());
        }).toCompletableFuture().get(5, TimeUnit.SECONDS);

        assertThat(response.status().intValue()).isEqualTo(200);
        assertThat(calls.get()).isEqualTo(1);
    }

    private static FaultStage stage(double draw) {
        return new FaultStage(KIT.system().scheduler(), Materializer.matFromSystem(KIT.system()), () -> draw,
                new ProxyMetrics());
    }

    private static OutboundCall call(RouteRule.Fault fault) {
        RouteRule rule = new RouteRule("chaos/0", null, Map.of(), List.of(),
                List.of(new RouteRule.WeightedBackend(Map.of(), 100)), null, fault, null);
        Cluster cluster = new Cluster(new ServiceName("echo", "default"), false, false, "", List.of(),
                ClusterPolicy.DEFAULTS);
        RequestContext context = new RequestContext("outbound", "req-1", System.nanoTime(), "echo");
        return OutboundCall.arrived(HttpRequest.create("/"), context, new java.util.concurrent.CompletableFuture<>(), null, null)
                .routed(cluster, rule, rule.backends().get(0), null);
    }
}
