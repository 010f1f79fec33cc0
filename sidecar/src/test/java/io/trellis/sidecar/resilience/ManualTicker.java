package io.trellis.sidecar.resilience;

import java.time.Duration;
import java.util.function.LongSupplier;

/** A nanosecond ticker that moves only when a test says so. */
public final class ManualTicker implements LongSupplier {
    private long nanos = 1_000_000_000_000L;

    @Override
    public synchronized long getAsLong() {
        return nanos;
    }

    /** Moves time forward by {@code step}. */
    public synchronized void advance(Duration step) {
        nanos += step.toNanos();
    }
}
