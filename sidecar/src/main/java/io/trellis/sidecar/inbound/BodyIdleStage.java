package io.trellis.sidecar.inbound;

import io.trellis.sidecar.config.Cluster;
import io.trellis.sidecar.config.ServiceName;
import io.trellis.sidecar.config.Timeouts;
import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.transport.BodyStreams;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * Bounds a caller's streamed request body on its way to the app by this service's own {@code streamIdle}, the bound
 * its callers' sidecars apply to the same body: a caller that stops sending (or trickles a byte now and then, a
 * slow-body attack) cannot hold the app's request open. When it passes, the app's request is ended (its connection
 * closed, or its h2c stream reset, so the app sees the body end short) and the caller is answered
 * {@code request-timeout}.
 */
final class BodyIdleStage implements Stage<InboundCall> {
    private final ServiceName self;

    /** A stage for the service {@code self}, whose TrafficPolicy timeouts apply. */
    BodyIdleStage(ServiceName self) {
        this.self = self;
    }

    @Override
    public CompletionStage<HttpResponse> apply(InboundCall call, Next<InboundCall> next) {
        Cluster own = call.table().clusters().get(self);
        Duration idle = own != null ? own.timeouts().streamIdle() : Timeouts.DEFAULTS.streamIdle();
        return next.handle(call.withRequest(BodyStreams.watch(call.request(), BodyStreams.requestIdleTimeout(idle))));
    }
}
