package io.trellis.sidecar.resilience;

import java.util.function.LongSupplier;

/**
 * Caps retries at {@code ratio} of the requests seen over the last 10 seconds plus {@code minPerSecond} for each
 * of those seconds (Linkerd's and Finagle's budget), so a failing upstream sees at most about
 * {@code (1 + ratio)} times the offered load instead of a retry storm. Counts live in ten one-second buckets.
 * Thread-safe; the critical sections are a few additions.
 */
public final class RetryBudget {
    private static final int BUCKETS = 10;
    private static final long SECOND = 1_000_000_000L;

    private final double ratio;
    private final int minPerSecond;
    private final LongSupplier nanoTicker;
    private final long[] epochs = new long[BUCKETS];
    private final long[] requests = new long[BUCKETS];
    private final long[] retries = new long[BUCKETS];

    /**
     * A budget reading time from {@code nanoTicker} ({@link System#nanoTime()} in production).
     *
     * @param ratio retries allowed per request, 0-1
     * @param minPerSecond retries allowed per second whatever the traffic
     */
    public RetryBudget(double ratio, int minPerSecond, LongSupplier nanoTicker) {
        this.ratio = ratio;
        this.minPerSecond = minPerSecond;
        this.nanoTicker = nanoTicker;
        java.util.Arrays.fill(epochs, Long.MIN_VALUE);
    }

    /** Counts one original request (not a retry): it earns {@code ratio} of a retry. */
    public synchronized void requested() {
        requests[bucket()]++;
    }

    /** Takes one retry from the budget; false (nothing taken) when it is spent. */
    public synchronized boolean tryRetry() {
        int current = bucket();
        long seenRequests = 0;
        long seenRetries = 0;
        for (int i = 0; i < BUCKETS; i++) {
            seenRequests += requests[i];
            seenRetries += retries[i];
        }
        if (seenRetries + 1 > ratio * seenRequests + (double) minPerSecond * BUCKETS) {
            return false;
        }
        retries[current]++;
        return true;
    }

    /** The bucket of the current second, cleared first if it last held an older second. */
    private int bucket() {
        long epoch = Math.floorDiv(nanoTicker.getAsLong(), SECOND);
        int index = (int) Math.floorMod(epoch, BUCKETS);
        if (epochs[index] != epoch) {
            // Every bucket older than the window is cleared lazily, one per second boundary crossed.
            for (int i = 0; i < BUCKETS; i++) {
                if (epochs[i] <= epoch - BUCKETS) {
                    epochs[i] = Long.MIN_VALUE;
                    requests[i] = 0;
                    retries[i] = 0;
                }
            }
            epochs[index] = epoch;
            requests[index] = 0;
            retries[index] = 0;
        }
        return index;
    }
}
