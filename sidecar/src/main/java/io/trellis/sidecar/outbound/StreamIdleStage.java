package io.trellis.sidecar.outbound;

import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.transport.BodyStreams;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * Per attempt: ends a streamed request or response body that carries no bytes for the cluster's
 * {@code streamIdle} timeout (the stream is reset and the app sees its body fail), so a stalled peer cannot hold a
 * stream forever. A stalled request body is the caller's {@code request-timeout} (answered, if no response began, and
 * never held against the upstream). Bodies that arrived whole are left alone. Connection idleness is the connection
 * pool's.
 */
final class StreamIdleStage implements Stage<OutboundCall> {
    @Override
    public CompletionStage<HttpResponse> apply(OutboundCall call, Next<OutboundCall> next) {
        Duration idle = call.cluster().timeouts().streamIdle();
        OutboundCall watched = call.withRequest(BodyStreams.watch(call.request(), BodyStreams.requestIdleTimeout(idle)));
        return next.handle(watched).thenApply(response -> BodyStreams.watch(response, BodyStreams.idleTimeout(idle)));
    }
}
