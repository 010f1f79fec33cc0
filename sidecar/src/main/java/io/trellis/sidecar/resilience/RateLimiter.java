package io.trellis.sidecar.resilience;

import io.trellis.sidecar.config.InboundPolicy;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The inbound rate limit of one workload: one token bucket shared by every caller, or one per caller identity.
 * Per-caller buckets that are full again carry no information and are dropped when many callers are tracked, so
 * memory stays bounded whatever the number of identities. Thread-safe.
 */
public final class RateLimiter {
    private static final int MAX_TRACKED_CALLERS = 10_000;

    private final InboundPolicy.RateLimit limit;
    private final LongSupplier nanoTicker;
    private final TokenBucket shared;
    private final ConcurrentHashMap<String, TokenBucket> perCaller = new ConcurrentHashMap<>();

    /** A limiter enforcing {@code limit}, reading time from {@code nanoTicker}. */
    public RateLimiter(InboundPolicy.RateLimit limit, LongSupplier nanoTicker) {
        this.limit = limit;
        this.nanoTicker = nanoTicker;
        this.shared = limit.perCaller() ? null : new TokenBucket(limit.requestsPerSecond(), limit.burst(), nanoTicker);
    }

    /** The limit this limiter enforces. */
    public InboundPolicy.RateLimit limit() {
        return limit;
    }

    /** Admits one request from {@code caller} (a SPIFFE ID, or {@code plaintext}); false when over the limit. */
    public boolean tryAcquire(String caller) {
        if (shared != null) {
            return shared.tryAcquire();
        }
        if (perCaller.size() >= MAX_TRACKED_CALLERS) {
            perCaller.values().removeIf(TokenBucket::isFull);
        }
        return perCaller.computeIfAbsent(caller, c -> new TokenBucket(limit.requestsPerSecond(), limit.burst(), nanoTicker))
                .tryAcquire();
    }
}
