package io.trellis.sidecar.outbound;

import io.trellis.sidecar.errors.ErrorResponses;
import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.resilience.CallerDeadline;
import io.trellis.sidecar.resilience.RequestTimeout;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;

/**
 * Per attempt: bounds it by the retry policy's {@code perTryTimeout} (from the attempt's start), and tells the
 * upstream how long it has left (the time to the deadline, or to the end of this attempt if that comes first):
 * the peer sidecar in {@code trellis-timeout-ms}, so it abandons the app request when nobody waits any more,
 * and a gRPC app in {@code grpc-timeout}.
 */
final class AttemptTimeoutStage implements Stage<OutboundCall> {
    private final RequestTimeout timeout;

    AttemptTimeoutStage(RequestTimeout timeout) {
        this.timeout = timeout;
    }

    @Override
    public CompletionStage<HttpResponse> apply(OutboundCall call, Next<OutboundCall> next) {
        Duration perTry = call.cluster().policy().retries().perTryTimeout();
        Duration remaining = Duration.ofNanos(call.deadlineNanos() - System.nanoTime());
        Duration budget = perTry != null && perTry.compareTo(remaining) < 0 ? perTry : remaining;
        HttpRequest request = call.request().removeHeader(CallerDeadline.HEADER);
        if (!call.cluster().external()) {
            // The peer sidecar stops waiting for its app when we stop waiting for it (and abandons the app request).
            request = request.addHeader(RawHeader.create(CallerDeadline.HEADER, CallerDeadline.format(budget)));
        }
        if (call.deadlineNanos() != Long.MAX_VALUE && ErrorResponses.isGrpc(request)) {
            request = request.removeHeader(GrpcTimeout.HEADER)
                    .addHeader(RawHeader.create(GrpcTimeout.HEADER, GrpcTimeout.format(budget)));
        }
        OutboundCall sent = call.withRequest(request);
        if (perTry == null) {
            return next.handle(sent);
        }
        OutboundCall attempt = sent;
        return timeout.within(perTry, "attempt " + (call.attempt() + 1) + " at " + call.endpoint().authority(),
                () -> next.handle(attempt));
    }
}
