package io.trellis.sidecar.outbound;

import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.resilience.RequestTimeout;
import io.trellis.sidecar.transport.BodyStreams;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;

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
        CompletableFuture<Void> bodySent = new CompletableFuture<>();
        if (!BodyStreams.streamed(call.request().entity())) {
            bodySent.complete(null);
        }
        HttpRequest request = BodyStreams.mapRequest(call.request(), BodyStreams.onEnd(readToEnd -> bodySent.complete(null)));
        OutboundCall watched = call.withRequest(request).withDeadline(System.nanoTime() + limit.toNanos());
        return timeout.within(limit, "service " + call.cluster().name(), bodySent, () -> next.handle(watched));
    }
}
