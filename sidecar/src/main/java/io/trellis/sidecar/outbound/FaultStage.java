package io.trellis.sidecar.outbound;

import io.trellis.sidecar.config.RouteRule;
import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.DoubleSupplier;
import org.apache.pekko.actor.typed.Scheduler;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.stream.Materializer;

/**
 * Chaos testing per route rule: delays its share of requests, then aborts its share with the configured status
 * (marked {@code trellis-fault: abort}) without calling the service. Delays wait on Pekko's scheduler, never on a
 * request thread.
 */
final class FaultStage implements Stage<OutboundCall> {
    private final Scheduler scheduler;
    private final Materializer materializer;
    private final DoubleSupplier random;
    private final ProxyMetrics metrics;

    /** Faults timed by {@code scheduler}, drawn from uniform values in [0, 1) from {@code random}. */
    FaultStage(Scheduler scheduler, Materializer materializer, DoubleSupplier random, ProxyMetrics metrics) {
        this.scheduler = scheduler;
        this.materializer = materializer;
        this.random = random;
        this.metrics = metrics;
    }

    @Override
    public CompletionStage<HttpResponse> apply(OutboundCall call, Next<OutboundCall> next) {
        RouteRule.Fault fault = call.rule().fault();
        if (fault == null) {
            return next.handle(call);
        }
        if (fault.delayPercent() > 0 && random.getAsDouble() * 100 < fault.delayPercent()) {
            metrics.faultInjected(call.cluster().name().name(), "delay");
            CompletableFuture<HttpResponse> delayed = new CompletableFuture<>();
            scheduler.scheduleOnce(fault.delay(), () -> afterDelay(fault, call, next).whenComplete((response, failure) -> {
                if (failure != null) {
                    delayed.completeExceptionally(failure);
                } else {
                    delayed.complete(response);
                }
            }), materializer.executionContext());
            return delayed;
        }
        return afterDelay(fault, call, next);
    }

    private CompletionStage<HttpResponse> afterDelay(RouteRule.Fault fault, OutboundCall call, Next<OutboundCall> next) {
        if (fault.abortPercent() > 0 && random.getAsDouble() * 100 < fault.abortPercent()) {
            metrics.faultInjected(call.cluster().name().name(), "abort");
            call.request().discardEntityBytes(materializer);
            return CompletableFuture.completedFuture(HttpResponse.create().withStatus(fault.abortStatus())
                    .addHeader(RawHeader.create("trellis-fault", "abort")));
        }
        return next.handle(call);
    }
}
