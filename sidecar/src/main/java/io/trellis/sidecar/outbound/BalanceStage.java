package io.trellis.sidecar.outbound;

import io.trellis.sidecar.balance.EndpointPicker;
import io.trellis.sidecar.config.Endpoint;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.pipeline.Stage;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/** Chooses the endpoint of a routed call; {@code no-healthy-endpoint} when the chosen subset is empty. */
final class BalanceStage implements Stage<OutboundCall> {
    private final EndpointPicker picker;

    BalanceStage(EndpointPicker picker) {
        this.picker = picker;
    }

    @Override
    public CompletionStage<HttpResponse> apply(OutboundCall call, Next<OutboundCall> next) {
        Endpoint endpoint = picker.pick(call.cluster().endpoints(), call.rule())
                .orElseThrow(() -> new ProxyException(ProxyError.NO_HEALTHY_ENDPOINT, call.cluster().endpoints().isEmpty()
                        ? "service " + call.cluster().name() + " has no endpoints"
                        : "no endpoint of " + call.cluster().name() + " matches the subset of route " + call.rule().name()));
        return next.handle(call.to(endpoint));
    }
}
