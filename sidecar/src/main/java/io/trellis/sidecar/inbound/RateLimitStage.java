package io.trellis.sidecar.inbound;

import io.trellis.sidecar.config.InboundPolicy;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.resilience.RateLimiter;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * Enforces the workload's inbound rate limit ({@code rate-limited}: 429, or RESOURCE_EXHAUSTED for gRPC). The
 * limiter is kept while the snapshot's limit stays the same and replaced when it changes, so a new snapshot does
 * not refill every bucket.
 */
final class RateLimitStage implements Stage<InboundCall> {
    private final ProxyMetrics metrics;
    private final LongSupplier nanoTicker;
    private final AtomicReference<RateLimiter> limiter = new AtomicReference<>();

    RateLimitStage(ProxyMetrics metrics, LongSupplier nanoTicker) {
        this.metrics = metrics;
        this.nanoTicker = nanoTicker;
    }

    @Override
    public CompletionStage<HttpResponse> apply(InboundCall call, Next<InboundCall> next) {
        InboundPolicy.RateLimit limit = call.table().inbound().rateLimit();
        if (limit == null) {
            return next.handle(call);
        }
        RateLimiter current = limiter.get();
        if (current == null || !current.limit().equals(limit)) {
            RateLimiter replacement = new RateLimiter(limit, nanoTicker);
            current = limiter.compareAndSet(current, replacement) ? replacement : limiter.get();
        }
        String caller = call.peer() != null ? call.peer().toString() : "plaintext";
        if (!current.tryAcquire(caller)) {
            metrics.rateLimited(call.context().service());
            throw new ProxyException(ProxyError.RATE_LIMITED, (limit.perCaller() ? "caller " + caller : "service "
                    + call.context().service()) + " is over its limit of " + limit.requestsPerSecond() + " requests/s (burst "
                    + limit.burst() + ")");
        }
        return next.handle(call);
    }
}
