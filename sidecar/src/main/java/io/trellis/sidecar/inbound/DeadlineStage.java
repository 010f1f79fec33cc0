package io.trellis.sidecar.inbound;

import io.trellis.sidecar.errors.ErrorResponses;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.resilience.CallerDeadline;
import io.trellis.sidecar.resilience.RequestTimeout;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * Applies the deadline the calling sidecar sent in {@code trellis-timeout-ms} (what is left of its request or
 * attempt timeout) to the call to the app, counted like the caller counts it: from when the request body has
 * been received in full. When it passes, the caller has given up: the app request is abandoned (its HTTP/1.1
 * connection is closed, so the app sees the client go away) and {@code upstream-timeout} is answered. The
 * header is removed before the app sees the request.
 */
final class DeadlineStage implements Stage<InboundCall> {
    private final RequestTimeout timeout;

    DeadlineStage(RequestTimeout timeout) {
        this.timeout = timeout;
    }

    @Override
    public CompletionStage<HttpResponse> apply(InboundCall call, Next<InboundCall> next) {
        if (call.request().getHeader(CallerDeadline.HEADER).isEmpty()) {
            return next.handle(call);
        }
        Optional<Duration> deadline = CallerDeadline.of(call.request());
        HttpRequest request = call.request().removeHeader(CallerDeadline.HEADER);
        if (deadline.isEmpty()) {
            return next.handle(call.withRequest(request));
        }
        CompletionStage<HttpResponse> answer = timeout.afterBody(request, deadline.get(), "the app",
                watched -> next.handle(call.withRequest(watched)));
        return answer.whenComplete((response, failure) -> {
            if (failure != null && ErrorResponses.asProxyException(failure).error() == ProxyError.UPSTREAM_TIMEOUT) {
                call.abandoned().complete(null);
            }
        });
    }
}
