package io.trellis.sidecar.outbound;

import io.trellis.sidecar.config.Endpoint;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.resilience.EndpointHealth;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * Per attempt: picks an endpoint of the routed backend's subset with the cluster's balancer, among endpoints
 * not ejected by outlier detection, and not the previous attempt's endpoint when another one exists;
 * {@code no-healthy-endpoint} when none is left.
 */
final class BalanceStage implements Stage<OutboundCall> {
    @Override
    public CompletionStage<HttpResponse> apply(OutboundCall call, Next<OutboundCall> next) {
        EndpointHealth health = call.runtime().health();
        List<Endpoint> candidates = new ArrayList<>();
        int inSubset = 0;
        for (Endpoint endpoint : call.cluster().endpoints()) {
            if (endpoint.matches(call.backend().subset())) {
                inSubset++;
                if (!health.isEjected(endpoint)) {
                    candidates.add(endpoint);
                }
            }
        }
        if (candidates.isEmpty()) {
            throw new ProxyException(ProxyError.NO_HEALTHY_ENDPOINT, call.cluster().endpoints().isEmpty()
                    ? "service " + call.cluster().name() + " has no endpoints"
                    : inSubset == 0 ? "no endpoint of " + call.cluster().name() + " matches subset " + call.backend().subset()
                            + " of route " + call.rule().name()
                    : "every endpoint of " + call.cluster().name() + " in subset " + call.backend().subset() + " is ejected");
        }
        Endpoint previous = call.trail().last();
        if (previous != null && candidates.size() > 1) {
            candidates.remove(previous);
        }
        Endpoint chosen = call.runtime().balancer().pick(candidates, call.runtime().loads());
        call.trail().picked(chosen);
        return next.handle(call.to(chosen));
    }
}
