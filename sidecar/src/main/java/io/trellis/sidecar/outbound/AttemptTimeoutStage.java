package io.trellis.sidecar.outbound;

import io.trellis.sidecar.errors.ErrorResponses;
import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.resilience.CallerDeadline;
import io.trellis.sidecar.resilience.RequestTimeout;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;

/**
 * Per attempt: bounds it by the retry policy's {@code perTryTimeout} (from the attempt's start), and tells the
 * upstream how long it has left: the peer sidecar in {@code trellis-timeout-ms} (the time to the request deadline,
 * or to the end of this attempt if that comes first), so it abandons the app request when nobody waits any more;
 * and a gRPC server in {@code grpc-timeout}, which carries only deadlines somebody set: the caller's own, the
 * route's {@code timeout}, the attempt's {@code perTryTimeout}. The cluster's default request timeout bounds only
 * the wait for response headers, so it is never written there: a stream may run as long as its caller allows.
 */
final class AttemptTimeoutStage implements Stage<OutboundCall> {
    private final RequestTimeout timeout;

    AttemptTimeoutStage(RequestTimeout timeout) {
        this.timeout = timeout;
    }

    /**
     * When a gRPC server must give up on this attempt ({@link System#nanoTime()} scale): the earliest of the caller's
     * {@code grpc-timeout} (counted from the request's arrival), the route's timeout and this attempt's
     * {@code perTryTimeout}; {@code Long.MAX_VALUE} when none is set.
     */
    private static long grpcDeadline(OutboundCall call, Duration perTry) {
        long now = System.nanoTime();
        long deadline = Long.MAX_VALUE;
        Optional<Duration> caller = GrpcTimeout.of(call.request());
        if (caller.isPresent()) {
            deadline = call.context().startNanos() + caller.get().toNanos();
        }
        if (call.rule().timeout() != null) {
            deadline = Math.min(deadline, call.deadlineNanos());
        }
        if (perTry != null) {
            deadline = Math.min(deadline, now + perTry.toNanos());
        }
        return deadline;
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
        if (ErrorResponses.isGrpc(request)) {
            long grpcDeadline = grpcDeadline(call, perTry);
            if (grpcDeadline != Long.MAX_VALUE) {
                request = request.removeHeader(GrpcTimeout.HEADER).addHeader(RawHeader.create(GrpcTimeout.HEADER,
                        GrpcTimeout.format(Duration.ofNanos(grpcDeadline - System.nanoTime()))));
            }
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
