package io.trellis.sidecar.outbound;

import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * Per attempt: fails fast with {@code overloaded} when the cluster already has {@code maxRequests} attempts
 * waiting for response headers (the pending and connection limits are enforced by the connection pool).
 */
final class LimitStage implements Stage<OutboundCall> {
    private final ProxyMetrics metrics;

    LimitStage(ProxyMetrics metrics) {
        this.metrics = metrics;
    }

    @Override
    public CompletionStage<HttpResponse> apply(OutboundCall call, Next<OutboundCall> next) {
        ClusterRuntime runtime = call.runtime();
        if (!runtime.tryStartRequest()) {
            metrics.rejected(call.cluster().name().name(), ProxyError.OVERLOADED.code());
            throw new ProxyException(ProxyError.OVERLOADED, call.cluster().name() + " already has "
                    + runtime.policy().limits().maxRequests() + " requests in flight (connectionLimits.maxRequests)");
        }
        // The pipeline turns a throwing stage into a failed future, so whenComplete always runs.
        return next.handle(call).whenComplete((response, failure) -> runtime.requestFinished());
    }
}
