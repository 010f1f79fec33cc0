package io.trellis.sidecar.outbound;

import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.resilience.RequestTimeout;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/** Applies the route rule's timeout, or else the cluster's request timeout, to a routed call. */
final class TimeoutStage implements Stage<OutboundCall> {
    private final RequestTimeout timeout;

    TimeoutStage(RequestTimeout timeout) {
        this.timeout = timeout;
    }

    @Override
    public CompletionStage<HttpResponse> apply(OutboundCall call, Next<OutboundCall> next) {
        Duration limit = call.rule().timeout() != null ? call.rule().timeout() : call.cluster().timeouts().request();
        return timeout.within(limit, "service " + call.cluster().name(), () -> next.handle(call));
    }
}
