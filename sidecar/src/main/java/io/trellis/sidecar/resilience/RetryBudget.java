package io.trellis.sidecar.resilience;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * Caps retries at {@code ratio} of the requests seen over the last 10 seconds plus {@code minPerSecond} for each
 * of those seconds (Linkerd's and Finagle's budget), so a failing upstream sees at most about
 * {@code (1 + ratio)} times the offered load instead of a retry storm. Thread-safe; the critical sections are a
 * few additions.
 */
public final class RetryBudget {
    private static final Duration WINDOW = Duration.ofSeconds(10);
    private static final int REQUESTS = 0;
    private static final int RETRIES = 1;

    private final double ratio;
    private final int minPerSecond;
    private final LongSupplier nanoTicker;
    private final SlidingWindow window = new SlidingWindow(WINDOW, 2);

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
    }

    /** Counts one original request (not a retry): it earns {@code ratio} of a retry. */
    public synchronized void requested() {
        window.increment(REQUESTS, nanoTicker.getAsLong());
    }

    /** Takes one retry from the budget; false (nothing taken) when it is spent. */
    public synchronized boolean tryRetry() {
        long now = nanoTicker.getAsLong();
        double allowed = ratio * window.sum(REQUESTS, now) + (double) minPerSecond * WINDOW.toSeconds();
        if (window.sum(RETRIES, now) + 1 > allowed) {
            return false;
        }
        window.increment(RETRIES, now);
        return true;
    }
}
