package io.trellis.sidecar.resilience;

import io.trellis.sidecar.config.ClusterPolicy;
import java.util.function.LongSupplier;

/**
 * A cluster-wide breaker. CLOSED counts outcomes in a sliding window (ten buckets); when at least
 * {@code minRequests} were seen and the failure share reaches {@code failureRatio} it turns OPEN and fails every
 * request fast for {@code openFor}; then HALF_OPEN lets {@code halfOpenProbes} requests through: all succeed
 * and it closes with a clean window, any fails and it opens again. Thread-safe.
 */
public final class CircuitBreaker {
    /** Where the breaker is. */
    public enum State { CLOSED, OPEN, HALF_OPEN }

    /** What {@link #tryAcquire} decided for one request. */
    public enum Permit {
        /** Go ahead (closed). */
        NORMAL,
        /** Go ahead as one of the half-open probes; its outcome decides the state. */
        PROBE,
        /** Fail fast with {@code circuit-open}. */
        REJECTED
    }

    private static final int BUCKETS = 10;

    private final ClusterPolicy.Breaker policy;
    private final LongSupplier nanoTicker;
    private final long bucketNanos;
    private final long[] epochs = new long[BUCKETS];
    private final long[] successes = new long[BUCKETS];
    private final long[] failures = new long[BUCKETS];
    private State state = State.CLOSED;
    private long openUntil;
    private int probesStarted;
    private int probesSucceeded;

    /** A closed breaker reading time from {@code nanoTicker}. */
    public CircuitBreaker(ClusterPolicy.Breaker policy, LongSupplier nanoTicker) {
        this.policy = policy;
        this.nanoTicker = nanoTicker;
        this.bucketNanos = Math.max(1, policy.window().toNanos() / BUCKETS);
        java.util.Arrays.fill(epochs, Long.MIN_VALUE);
    }

    /** Whether a request may go to the cluster now. */
    public synchronized Permit tryAcquire() {
        long now = nanoTicker.getAsLong();
        if (state == State.OPEN) {
            if (now - openUntil < 0) {
                return Permit.REJECTED;
            }
            state = State.HALF_OPEN;
            probesStarted = 0;
            probesSucceeded = 0;
        }
        if (state == State.HALF_OPEN) {
            if (probesStarted >= policy.halfOpenProbes()) {
                return Permit.REJECTED;
            }
            probesStarted++;
            return Permit.PROBE;
        }
        return Permit.NORMAL;
    }

    /** Records the outcome of a request that was let through with {@code permit}. */
    public synchronized void record(Permit permit, boolean failed) {
        long now = nanoTicker.getAsLong();
        if (permit == Permit.PROBE) {
            if (state != State.HALF_OPEN) {
                return;
            }
            if (failed) {
                open(now);
            } else if (++probesSucceeded >= policy.halfOpenProbes()) {
                state = State.CLOSED;
                clearWindow();
            }
            return;
        }
        if (permit != Permit.NORMAL || state != State.CLOSED) {
            return;
        }
        int index = bucket(now);
        if (failed) {
            failures[index]++;
        } else {
            successes[index]++;
        }
        long total = 0;
        long failedTotal = 0;
        for (int i = 0; i < BUCKETS; i++) {
            total += successes[i] + failures[i];
            failedTotal += failures[i];
        }
        if (total >= policy.minRequests() && failedTotal >= policy.failureRatio() * total) {
            open(now);
        }
    }

    /** The current state (OPEN turns HALF_OPEN only when a request asks). */
    public synchronized State state() {
        return state;
    }

    private void open(long now) {
        state = State.OPEN;
        openUntil = now + policy.openFor().toNanos();
        clearWindow();
    }

    private void clearWindow() {
        java.util.Arrays.fill(epochs, Long.MIN_VALUE);
        java.util.Arrays.fill(successes, 0);
        java.util.Arrays.fill(failures, 0);
    }

    private int bucket(long now) {
        long epoch = Math.floorDiv(now, bucketNanos);
        int index = (int) Math.floorMod(epoch, BUCKETS);
        if (epochs[index] != epoch) {
            for (int i = 0; i < BUCKETS; i++) {
                if (epochs[i] <= epoch - BUCKETS) {
                    epochs[i] = Long.MIN_VALUE;
                    successes[i] = 0;
                    failures[i] = 0;
                }
            }
            epochs[index] = epoch;
            successes[index] = 0;
            failures[index] = 0;
        }
        return index;
    }
}
