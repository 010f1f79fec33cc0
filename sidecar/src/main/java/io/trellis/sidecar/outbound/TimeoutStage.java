package io.trellis.sidecar.outbound;

import io.trellis.sidecar.errors.ErrorResponses;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.resilience.RequestTimeout;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * The whole request's deadline, retries included: the route rule's timeout, or else the cluster's request
 * timeout, shortened by the caller's {@code grpc-timeout} when it sent one. The clock starts once the request
 * body has been sent in full (a long upload is not cut short); the deadline the retry stage plans with counts
 * from now.
 *
 * <p>A gRPC caller whose own deadline passes resets its stream at about the moment this stage's timer would fire,
 * and often just before (its clock started earlier). Such an abandonment within {@link #CALLER_DEADLINE_SLACK} of
 * the caller's deadline is that deadline passing and is answered (and counted) {@code upstream-timeout},
 * DEADLINE_EXCEEDED; any earlier one is the caller cancelling ({@code client-aborted}, CANCELLED).
 */
final class TimeoutStage implements Stage<OutboundCall> {
    /** How early a caller's reset may come and still be its deadline passing (its clock ran ahead of ours). */
    static final Duration CALLER_DEADLINE_SLACK = Duration.ofMillis(50);

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
        CompletionStage<HttpResponse> answer = timeout.afterBody(call.request(), limit, "service " + call.cluster().name(),
                request -> next.handle(call.withRequest(request).withDeadline(deadline)));
        if (callerDeadline.isEmpty()) {
            return answer;
        }
        Duration callers = callerDeadline.get();
        return answer.exceptionally(failure -> {
            if (ErrorResponses.asProxyException(failure).error() == ProxyError.CLIENT_ABORTED
                    && System.nanoTime() - (deadline - CALLER_DEADLINE_SLACK.toNanos()) >= 0) {
                throw new ProxyException(ProxyError.UPSTREAM_TIMEOUT, "the caller's deadline (grpc-timeout "
                        + callers.toMillis() + " ms) passed before " + call.cluster().name() + " answered", failure);
            }
            throw failure instanceof CompletionException completion ? completion : new CompletionException(failure);
        });
    }
}
