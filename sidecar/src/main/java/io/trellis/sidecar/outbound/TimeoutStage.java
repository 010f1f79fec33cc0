package io.trellis.sidecar.outbound;

import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.resilience.RequestTimeout;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
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
        long deadline = System.nanoTime() + limit.toNanos();
        return timeout.afterBody(call.request(), limit, "service " + call.cluster().name(),
                request -> next.handle(call.withRequest(request).withDeadline(deadline)));
    }
}
