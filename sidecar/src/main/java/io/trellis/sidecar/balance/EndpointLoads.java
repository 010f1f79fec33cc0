package io.trellis.sidecar.balance;

import io.trellis.sidecar.config.Endpoint;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * The live load of each endpoint of one cluster: requests in flight and a moving average of latency. Attempts
 * report start and end; balancers read. Thread-safe and lock-free on the request path.
 */
public final class EndpointLoads {
    /** How fast the latency average forgets: a sample's weight halves about every 7 s (Finagle's peak EWMA). */
    private static final double DECAY_NANOS = 10e9;

    private final LongSupplier nanoTicker;
    private final ConcurrentHashMap<Endpoint, Load> loads = new ConcurrentHashMap<>();

    /** Loads timed by {@code nanoTicker}. */
    public EndpointLoads(LongSupplier nanoTicker) {
        this.nanoTicker = nanoTicker;
    }

    /** The load of {@code endpoint}, created on first use. */
    public Load of(Endpoint endpoint) {
        Load load = loads.get(endpoint);
        return load != null ? load : loads.computeIfAbsent(endpoint, e -> new Load(e.weight(), nanoTicker));
    }

    /** Forgets endpoints that left the cluster. */
    public void retainOnly(Set<Endpoint> current) {
        loads.keySet().retainAll(current);
    }

    /** One endpoint's load. */
    public static final class Load {
        private final int weight;
        private final LongSupplier nanoTicker;
        private final AtomicInteger inFlight = new AtomicInteger();
        private double ewmaNanos;
        private long stampNanos;

        Load(int weight, LongSupplier nanoTicker) {
            this.weight = Math.max(1, weight);
            this.nanoTicker = nanoTicker;
            this.stampNanos = nanoTicker.getAsLong();
        }

        /** An attempt to this endpoint started; returns the start time for {@link #finished}. */
        public long started() {
            inFlight.incrementAndGet();
            return nanoTicker.getAsLong();
        }

        /** The attempt started at {@code startedAt} has its answer (or failed). */
        public void finished(long startedAt) {
            inFlight.decrementAndGet();
            long now = nanoTicker.getAsLong();
            observe(now - startedAt, now);
        }

        /** Requests in flight. */
        public int inFlight() {
            return inFlight.get();
        }

        /** Least-request cost: in flight per unit of weight. */
        public double inFlightPerWeight() {
            return (inFlight.get() + 1.0) / weight;
        }

        /** EWMA cost: average latency times the requests it would queue behind (Finagle's peak EWMA). */
        public synchronized double latencyCost() {
            long now = nanoTicker.getAsLong();
            double decayed = ewmaNanos * Math.exp(-(now - stampNanos) / DECAY_NANOS);
            return (decayed + 1) * (inFlight.get() + 1.0) / weight;
        }

        private synchronized void observe(long latencyNanos, long now) {
            // Peak-sensitive: a slower sample replaces the average at once; faster ones pull it down gradually.
            if (latencyNanos > ewmaNanos) {
                ewmaNanos = latencyNanos;
            } else {
                double w = Math.exp(-(now - stampNanos) / DECAY_NANOS);
                ewmaNanos = ewmaNanos * w + latencyNanos * (1 - w);
            }
            stampNanos = now;
        }
    }
}
