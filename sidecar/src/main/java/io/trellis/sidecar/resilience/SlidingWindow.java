package io.trellis.sidecar.resilience;

import java.time.Duration;
import java.util.Arrays;

/**
 * A few counters over a sliding time window, kept in ten buckets of a tenth of the window each; buckets that
 * fall out of the window are cleared lazily. Not thread-safe: its owner synchronizes.
 */
final class SlidingWindow {
    private static final int BUCKETS = 10;

    private final long bucketNanos;
    private final long[] epochs = new long[BUCKETS];
    private final long[][] counts;

    /** A window of {@code length} holding {@code counters} counters. */
    SlidingWindow(Duration length, int counters) {
        this.bucketNanos = Math.max(1, length.toNanos() / BUCKETS);
        this.counts = new long[counters][BUCKETS];
        clear();
    }

    /** Adds one to {@code counter} at time {@code now} (nanoseconds). */
    void increment(int counter, long now) {
        counts[counter][bucket(now)]++;
    }

    /** The sum of {@code counter} over the window ending at {@code now}. */
    long sum(int counter, long now) {
        bucket(now);
        long sum = 0;
        for (long count : counts[counter]) {
            sum += count;
        }
        return sum;
    }

    /** Forgets everything. */
    void clear() {
        Arrays.fill(epochs, Long.MIN_VALUE);
        for (long[] counter : counts) {
            Arrays.fill(counter, 0);
        }
    }

    /** The bucket for {@code now}, after clearing every bucket that left the window. */
    private int bucket(long now) {
        long epoch = Math.floorDiv(now, bucketNanos);
        int index = (int) Math.floorMod(epoch, BUCKETS);
        if (epochs[index] != epoch) {
            for (int i = 0; i < BUCKETS; i++) {
                if (epochs[i] <= epoch - BUCKETS || i == index) {
                    epochs[i] = i == index ? epoch : Long.MIN_VALUE;
                    for (long[] counter : counts) {
                        counter[i] = 0;
                    }
                }
            }
        }
        return index;
    }
}
