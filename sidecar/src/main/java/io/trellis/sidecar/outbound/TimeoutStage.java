package io.trellis.sidecar.outbound;

import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.resilience.RequestTimeout;
import io.trellis.sidecar.transport.PekkoFutures;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

/**
 * The whole request's deadline, retries included: the route rule's timeout, or else the cluster's request
 * timeout, shortened by the caller's {@code grpc-timeout} when it sent one. The clock starts once the request
 * body has been sent in full (a long upload is not cut short); the deadline the retry stage plans with counts
 * from now.
 */
final class TimeoutStage implements Stage<OutboundCall> {
    private final RequestTimeout timeout;

    TimeoutStage(RequestTimeout timeout) {
        this.timeout = timeout;
    }

    @Override
    public CompletionStage<HttpResponse> apply(OutboundCall call, Next<OutboundCall> next) {
        Duration limit = call.rule().timeout() != null ? call.rule().timeout() : call.cluster().timeouts().request();
        Optional<Duration> callerDeadline = GrpcTimeout.of(call.request());
        if (callerDeadline.isPresent() && callerDeadline.get().compareTo(limit) < 0) {
            limit = callerDeadline.get();
        }
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
        OutboundCall watched = call.withRequest(request).withDeadline(System.nanoTime() + limit.toNanos());
        return timeout.within(limit, "service " + call.cluster().name(), bodySent, () -> next.handle(watched));
    }
}
