package io.trellis.sidecar.tcp;

import io.trellis.sidecar.config.Endpoint;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Balances opaque-TCP connections: the endpoint with the fewest open connections from this sidecar, of two picked
 * at random (TCP connections are long-lived, so open connections, not requests, are the load), and the per-service
 * cap on open connections. Thread-safe.
 */
final class EndpointChooser {
    private final ConcurrentHashMap<Endpoint, AtomicInteger> perEndpoint = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, AtomicInteger> perService = new ConcurrentHashMap<>();

    /** Takes one of {@code max} connection slots of {@code service}; false (nothing taken) when all are in use. */
    boolean tryOpen(String service, int max) {
        AtomicInteger count = perService.computeIfAbsent(service, s -> new AtomicInteger());
        if (count.incrementAndGet() > max) {
            count.decrementAndGet();
            return false;
        }
        return true;
    }

    /** Gives a slot of {@code service} back. */
    void closed(String service) {
        perService.get(service).decrementAndGet();
    }

    /** One of {@code candidates} (not empty). */
    Endpoint pick(List<Endpoint> candidates) {
        if (candidates.size() == 1) {
            return candidates.get(0);
        }
        ThreadLocalRandom random = ThreadLocalRandom.current();
        int i = random.nextInt(candidates.size());
        int j = random.nextInt(candidates.size() - 1);
        Endpoint a = candidates.get(i);
        Endpoint b = candidates.get(j >= i ? j + 1 : j);
        return open(a) <= open(b) ? a : b;
    }

    /** A connection to {@code endpoint} is being made. */
    void started(Endpoint endpoint) {
        perEndpoint.compute(endpoint, (e, count) -> {
            AtomicInteger next = count == null ? new AtomicInteger() : count;
            next.incrementAndGet();
            return next;
        });
    }

    /** A connection to {@code endpoint} ended (or was never made). */
    void ended(Endpoint endpoint) {
        perEndpoint.computeIfPresent(endpoint, (e, count) -> count.decrementAndGet() <= 0 ? null : count);
    }

    private int open(Endpoint endpoint) {
        AtomicInteger count = perEndpoint.get(endpoint);
        return count == null ? 0 : count.get();
    }
}
