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
 * Per request, around the retries: fails fast with {@code circuit-open} while the breaker of the request's backend
 * set is open, and reports to it what the caller experiences, so a request whose retry succeeded is a success and a
 * recoverable fault never becomes an outage. Each backend set (route subset) has its own breaker: a failing subset
 * never trips another. Only the upstream's failures count ({@link FailureRule}): the sidecar's own refusals
 * ({@code overloaded}, {@code no-healthy-endpoint}) and injected faults (the fault stage runs before this one) do not.
 */
final class BreakerStage implements Stage<OutboundCall> {
    private final ProxyMetrics metrics;

    BreakerStage(ProxyMetrics metrics) {
        this.metrics = metrics;
    }

    @Override
    public CompletionStage<HttpResponse> apply(OutboundCall call, Next<OutboundCall> next) {
        CircuitBreaker breaker = call.runtime().breaker(call.backend().subset());
        CircuitBreaker.Permit permit = breaker.tryAcquire();
        String service = call.cluster().name().name();
        if (permit == CircuitBreaker.Permit.REJECTED) {
            metrics.rejected(service, ProxyError.CIRCUIT_OPEN.code());
            throw new ProxyException(ProxyError.CIRCUIT_OPEN, "the circuit to " + call.cluster().name()
                    + (call.backend().subset().isEmpty() ? "" : " " + call.backend().subset())
                    + " is open after too many failures; probing again after " + call.cluster().policy().breaker().openFor().toMillis() + " ms");
        }
        return next.handle(call).whenComplete((response, failure) ->
                breaker.record(permit, FailureRule.failed(response, failure)));
    }
}
