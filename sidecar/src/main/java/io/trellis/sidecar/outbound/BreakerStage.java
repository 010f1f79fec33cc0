package io.trellis.sidecar.outbound;

import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.resilience.CircuitBreaker;
import io.trellis.sidecar.resilience.FailureRule;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * Per attempt: fails fast with {@code circuit-open} while the cluster's breaker is open, and reports each
 * attempt's outcome to it.
 */
final class BreakerStage implements Stage<OutboundCall> {
    private final ProxyMetrics metrics;

    BreakerStage(ProxyMetrics metrics) {
        this.metrics = metrics;
    }

    @Override
    public CompletionStage<HttpResponse> apply(OutboundCall call, Next<OutboundCall> next) {
        CircuitBreaker breaker = call.runtime().breaker();
        CircuitBreaker.Permit permit = breaker.tryAcquire();
        String service = call.cluster().name().name();
        if (permit == CircuitBreaker.Permit.REJECTED) {
            metrics.rejected(service, ProxyError.CIRCUIT_OPEN.code());
            throw new ProxyException(ProxyError.CIRCUIT_OPEN, "the circuit to " + call.cluster().name()
                    + " is open after too many failures; probing again after " + call.cluster().policy().breaker().openFor().toMillis() + " ms");
        }
        return next.handle(call).whenComplete((response, failure) ->
                breaker.record(permit, FailureRule.failed(response, failure)));
    }
}
