package io.trellis.sidecar.outbound;

import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.resilience.RequestTimeout;
import io.trellis.sidecar.transport.PekkoFutures;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

/**
 * Applies the route rule's timeout, or else the cluster's request timeout, to a routed call; the clock starts
 * once the request body has been sent in full.
 */
final class TimeoutStage implements Stage<OutboundCall> {
    private final RequestTimeout timeout;

    TimeoutStage(RequestTimeout timeout) {
        this.timeout = timeout;
    }

    @Override
    public CompletionStage<HttpResponse> apply(OutboundCall call, Next<OutboundCall> next) {
        Duration limit = call.rule().timeout() != null ? call.rule().timeout() : call.cluster().timeouts().request();
        HttpRequest request = call.request();
        CompletableFuture<Void> bodySent = new CompletableFuture<>();
        HttpEntity entity = request.entity();
        if (entity.isKnownEmpty() || entity.isStrict()) {
            bodySent.complete(null);
        } else {
            Source<ByteString, ?> data = entity.getDataBytes().watchTermination((mat, done) -> {
                PekkoFutures.direct(done).whenComplete((d, error) -> bodySent.complete(null));
                return mat;
            });
            request = request.withEntity(entity.getContentLengthOption().isPresent()
                    ? HttpEntities.create(entity.getContentType(), entity.getContentLengthOption().getAsLong(), data)
                    : HttpEntities.createChunked(entity.getContentType(), data));
        }
        OutboundCall watched = call.withRequest(request);
        return timeout.within(limit, "service " + call.cluster().name(), bodySent, () -> next.handle(watched));
    }
}
