package io.trellis.sidecar.resilience;

import io.trellis.sidecar.config.ClusterPolicy;
import java.util.function.Consumer;
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

    private static final int SUCCESSES = 0;
    private static final int FAILURES = 1;

    private final ClusterPolicy.Breaker policy;
    private final LongSupplier nanoTicker;
    private final Consumer<State> onTransition;
    private final SlidingWindow window;
    private State state = State.CLOSED;
    private long openUntil;
    private int probesStarted;
    private int probesSucceeded;

    /**
     * A closed breaker reading time from {@code nanoTicker}; {@code onTransition} hears each state it enters
     * (called under the breaker's lock: keep it short).
     */
    public CircuitBreaker(ClusterPolicy.Breaker policy, LongSupplier nanoTicker, Consumer<State> onTransition) {
        this.policy = policy;
        this.nanoTicker = nanoTicker;
        this.onTransition = onTransition;
        this.window = new SlidingWindow(policy.window(), 2);
    }

    /** Whether a request may go to the cluster now. */
    public synchronized Permit tryAcquire() {
        long now = nanoTicker.getAsLong();
        if (state == State.OPEN) {
            if (now - openUntil < 0) {
                return Permit.REJECTED;
            }
            enter(State.HALF_OPEN);
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
                enter(State.CLOSED);
                window.clear();
            }
            return;
        }
        if (permit != Permit.NORMAL || state != State.CLOSED) {
            return;
        }
        window.increment(failed ? FAILURES : SUCCESSES, now);
        long failedTotal = window.sum(FAILURES, now);
        long total = failedTotal + window.sum(SUCCESSES, now);
        if (total >= policy.minRequests() && failedTotal >= policy.failureRatio() * total) {
            open(now);
        }
    }

    /** The current state (OPEN turns HALF_OPEN only when a request asks). */
    public synchronized State state() {
        return state;
    }

    private void enter(State next) {
        state = next;
        onTransition.accept(next);
    }

    private void open(long now) {
        enter(State.OPEN);
        openUntil = now + policy.openFor().toNanos();
        window.clear();
    }
}
