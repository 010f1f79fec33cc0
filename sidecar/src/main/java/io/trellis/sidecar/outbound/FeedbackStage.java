package io.trellis.sidecar.outbound;

import io.trellis.sidecar.balance.EndpointLoads;
import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.resilience.FailureRule;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * Per attempt, around the call to the chosen endpoint: counts it in flight and measures its latency for the
 * balancer, and reports gateway errors for outlier detection.
 */
final class FeedbackStage implements Stage<OutboundCall> {
    @Override
    public CompletionStage<HttpResponse> apply(OutboundCall call, Next<OutboundCall> next) {
        EndpointLoads.Load load = call.runtime().loads().of(call.endpoint());
        long started = load.started();
        return next.handle(call).whenComplete((response, failure) -> {
            load.finished(started);
            call.runtime().attemptEnded(call.endpoint(), FailureRule.gatewayError(response, failure));
        });
    }
}
