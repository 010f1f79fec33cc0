package io.trellis.sidecar.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class BackoffTest {
    @Test
    void ceilingDoublesPerAttemptUpToTheCap() {
        Backoff highest = new Backoff(Duration.ofMillis(500), Duration.ofSeconds(30), () -> 0.999999);

        assertThat(highest.delay(0)).isEqualTo(Duration.ofMillis(499));
        assertThat(highest.delay(1)).isEqualTo(Duration.ofMillis(999));
        assertThat(highest.delay(3)).isEqualTo(Duration.ofMillis(3999));
        assertThat(highest.delay(10)).isEqualTo(Duration.ofMillis(29999));
        assertThat(highest.delay(1000)).isEqualTo(Duration.ofMillis(29999));
    }

    @Test
    void fullJitterSpreadsFromNearZero() {
        Backoff lowest = new Backoff(Duration.ofMillis(500), Duration.ofSeconds(30), () -> 0.0);

        assertThat(lowest.delay(5)).isEqualTo(Duration.ofMillis(1));
        assertThat(new Backoff(Duration.ofMillis(500), Duration.ofSeconds(30), () -> 0.5).delay(2)).isEqualTo(Duration.ofMillis(1000));
    }
}
