package io.trellis.sidecar.outbound;

import io.trellis.sidecar.config.RouteRule;
import io.trellis.sidecar.errors.ErrorResponses;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;

/**
 * Serves the route rule's static fallback, marked {@code trellis-fallback: true}, when the service cannot be
 * called at all: its circuit is open or none of its endpoints is healthy. Other failures pass through.
 */
final class FallbackStage implements Stage<OutboundCall> {
    /** Marks a response the sidecar served from the route's fallback instead of the service. */
    static final String HEADER = "trellis-fallback";

    private final ProxyMetrics metrics;

    FallbackStage(ProxyMetrics metrics) {
        this.metrics = metrics;
    }

    @Override
    public CompletionStage<HttpResponse> apply(OutboundCall call, Next<OutboundCall> next) {
        RouteRule.Fallback fallback = call.rule().fallback();
        if (fallback == null) {
            return next.handle(call);
        }
        CompletableFuture<HttpResponse> result = new CompletableFuture<>();
        next.handle(call).whenComplete((response, failure) -> {
            if (failure == null) {
                result.complete(response);
                return;
            }
            ProxyError error = ErrorResponses.asProxyException(failure).error();
            if (error == ProxyError.CIRCUIT_OPEN || error == ProxyError.NO_HEALTHY_ENDPOINT) {
                metrics.fallbackServed(call.cluster().name().name());
                result.complete(respond(fallback));
            } else {
                result.completeExceptionally(failure);
            }
        });
        return result;
    }

    private static HttpResponse respond(RouteRule.Fallback fallback) {
        ContentType type = ContentTypes.parse(fallback.contentType());
        return HttpResponse.create().withStatus(fallback.status())
                .withEntity(HttpEntities.create(type, fallback.body().getBytes(StandardCharsets.UTF_8)))
                .addHeader(RawHeader.create(HEADER, "true"));
    }
}
