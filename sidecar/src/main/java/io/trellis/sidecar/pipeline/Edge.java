package io.trellis.sidecar.pipeline;

import io.trellis.sidecar.errors.ErrorResponses;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.telemetry.GrpcOutcome;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import io.trellis.sidecar.telemetry.TraceHeaders;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;

/**
 * The outermost stage of both pipelines: turns a failed call into the sidecar's error response (the only
 * place that happens), echoes {@code x-request-id}, reports retries in {@code trellis-retry}, and counts the
 * outcome. Metrics never fail the request.
 *
 * @param <C> the direction's call type
 */
public final class Edge<C extends Call> implements Stage<C> {
    /** Says how many attempts a request took and which retry was skipped and why: {@code attempts=2; skipped=budget}. */
    public static final String RETRY_HEADER = "trellis-retry";

    private final ProxyMetrics metrics;

    /** An edge recording into {@code metrics}. */
    public Edge(ProxyMetrics metrics) {
        this.metrics = metrics;
    }

    @Override
    public CompletionStage<HttpResponse> apply(C call, Next<C> next) {
        RequestContext context = call.context();
        return next.handle(call).handle((response, failure) -> {
            HttpResponse answer;
            if (failure != null) {
                ProxyException error = ErrorResponses.asProxyException(failure);
                answer = ErrorResponses.respond(call.request(), error, context.service(), context.requestId());
                metrics.errorResponded(context.direction(), error.error().code());
            } else if (response.getHeader(TraceHeaders.REQUEST_ID).isEmpty() && context.requestId() != null) {
                answer = response.addHeader(RawHeader.create(TraceHeaders.REQUEST_ID, context.requestId()));
            } else {
                answer = response;
            }
            if (context.retryNote() != null) {
                answer = answer.addHeader(RawHeader.create(RETRY_HEADER, context.retryNote()));
            }
            // The response goes back over the caller's connection, whatever protocol the upstream spoke.
            answer = answer.withProtocol(call.request().protocol());
            try {
                long nanos = System.nanoTime() - context.startNanos();
                if (ErrorResponses.isGrpc(call.request())) {
                    // A gRPC call's outcome is its grpc-status, usually in the trailers: count it when it ends.
                    metrics.responseStarted(context.direction(), context.service(), nanos);
                    answer = GrpcOutcome.watch(answer, code -> countGrpc(context, code));
                } else {
                    metrics.requestCompleted(context.direction(), context.service(), answer.status().intValue(), nanos);
                }
            } catch (RuntimeException e) {
                // Counting must never break the data path.
            }
            return answer;
        });
    }

    private void countGrpc(RequestContext context, int code) {
        try {
            metrics.grpcCompleted(context.direction(), context.service(), code);
        } catch (RuntimeException e) {
            // Counting must never break the data path.
        }
    }
}
