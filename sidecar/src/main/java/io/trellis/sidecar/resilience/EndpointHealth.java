package io.trellis.sidecar.resilience;

import io.trellis.sidecar.config.Endpoint;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * The request path's view of outlier detection for one cluster: attempts report gateway errors and successes,
 * and the balancer skips the endpoints in the ejected set. Deciding who is ejected, and for how long, is the
 * {@link OutlierDetector} actor's job: whoever records the error that reaches the consecutive-error threshold
 * tells it, and it publishes the set back here. Thread-safe; reads are a volatile load.
 */
public final class EndpointHealth {
    private final int consecutiveErrors;
    private final IntConsumer ejectedCount;
    private final ConcurrentHashMap<Endpoint, AtomicInteger> streaks = new ConcurrentHashMap<>();
    private volatile Set<Endpoint> ejected = Set.of();

    /**
     * Health for endpoints that become candidates for ejection after {@code consecutiveErrors} gateway errors in a
     * row; {@code ejectedCount} hears the size of every published set (for the metric).
     */
    public EndpointHealth(int consecutiveErrors, IntConsumer ejectedCount) {
        this.consecutiveErrors = consecutiveErrors;
        this.ejectedCount = ejectedCount;
    }

    /**
     * Records an attempt's outcome at {@code endpoint}; true exactly when this error completed a streak of the
     * threshold, so the caller tells the detector once per streak.
     */
    public boolean record(Endpoint endpoint, boolean gatewayError) {
        if (!gatewayError) {
            AtomicInteger streak = streaks.get(endpoint);
            if (streak != null) {
                streak.set(0);
            }
            return false;
        }
        return streaks.computeIfAbsent(endpoint, e -> new AtomicInteger()).incrementAndGet() == consecutiveErrors;
    }

    /** True while {@code endpoint} is ejected. */
    public boolean isEjected(Endpoint endpoint) {
        Set<Endpoint> current = ejected;
        return !current.isEmpty() && current.contains(endpoint);
    }

    /** The ejected endpoints. */
    public Set<Endpoint> ejected() {
        return ejected;
    }

    /** Called by the detector: {@code now} is the ejected set; a returning endpoint starts a fresh streak. */
    void publish(Set<Endpoint> now) {
        for (Endpoint endpoint : ejected) {
            if (!now.contains(endpoint)) {
                streaks.remove(endpoint);
            }
        }
        ejected = Set.copyOf(now);
        ejectedCount.accept(now.size());
    }
}
