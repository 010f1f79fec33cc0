package io.trellis.sidecar.resilience;

import java.util.function.LongSupplier;

/**
 * A token bucket: refills at {@code ratePerSecond}, holds at most {@code burst} tokens, starts full. Each admitted
 * request takes one token. Thread-safe.
 */
public final class TokenBucket {
    private final double ratePerNano;
    private final double burst;
    private final LongSupplier nanoTicker;
    private double tokens;
    private long refilledAt;

    /** A full bucket reading time from {@code nanoTicker}. */
    public TokenBucket(double ratePerSecond, int burst, LongSupplier nanoTicker) {
        this.ratePerNano = ratePerSecond / 1e9;
        this.burst = burst;
        this.nanoTicker = nanoTicker;
        this.tokens = burst;
        this.refilledAt = nanoTicker.getAsLong();
    }

    /** Takes a token; false when none is left. */
    public synchronized boolean tryAcquire() {
        refill();
        if (tokens < 1) {
            return false;
        }
        tokens -= 1;
        return true;
    }

    /** Whether the bucket is full (nothing to remember about its caller). */
    public synchronized boolean isFull() {
        refill();
        return tokens >= burst;
    }

    private void refill() {
        long now = nanoTicker.getAsLong();
        long elapsed = now - refilledAt;
        if (elapsed > 0) {
            tokens = Math.min(burst, tokens + elapsed * ratePerNano);
            refilledAt = now;
        }
    }
}
