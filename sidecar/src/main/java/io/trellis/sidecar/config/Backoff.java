package io.trellis.sidecar.config;

import java.time.Duration;
import java.util.function.DoubleSupplier;

/**
 * Full-jitter exponential backoff: attempt n waits a uniform random time in [0, min(cap, base * 2^n)], so
 * sidecars that lost the control plane together do not come back in lockstep. Immutable; the randomness is
 * injected so tests are deterministic.
 *
 * @param base the ceiling of the first wait
 * @param cap the largest ceiling
 * @param random uniform values in [0, 1)
 */
public record Backoff(Duration base, Duration cap, DoubleSupplier random) {
    /** The wait before attempt {@code attempt} (0-based). */
    public Duration delay(int attempt) {
        long ceiling = base.toMillis() << Math.min(Math.max(attempt, 0), 20);
        ceiling = Math.min(ceiling, cap.toMillis());
        return Duration.ofMillis(Math.max(1, (long) (random.getAsDouble() * ceiling)));
    }
}
