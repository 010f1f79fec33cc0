package io.trellis.sidecar.resilience;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.sidecar.config.ClusterPolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class CircuitBreakerTest {
    private final ManualTicker ticker = new ManualTicker();
    private final List<CircuitBreaker.State> transitions = new ArrayList<>();
    private final CircuitBreaker breaker = new CircuitBreaker(
            new ClusterPolicy.Breaker(0.5, 20, Duration.ofSeconds(10), Duration.ofSeconds(30), 3), ticker, transitions::add);

    @Test
    void staysClosedBelowMinimumRequests() {
        record(19, true);
        assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.CLOSED);
    }

    @Test
    void opensAtFailureRatioAndFailsFast() {
        record(10, false);
        record(10, true);
        assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.OPEN);
        assertThat(breaker.tryAcquire()).isEqualTo(CircuitBreaker.Permit.REJECTED);
    }

    @Test
    void staysClosedBelowFailureRatio() {
        record(11, false);
        record(9, true);
        assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.CLOSED);
    }

    @Test
    void failuresOutsideTheWindowAreForgotten() {
        record(15, true);
        ticker.advance(Duration.ofSeconds(11));
        record(5, true);
        record(15, false);
        assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.CLOSED);
    }

    @Test
    void halfOpenLetsProbesThroughAndClosesWhenAllSucceed() {
        record(20, true);
        ticker.advance(Duration.ofSeconds(30));

        CircuitBreaker.Permit first = breaker.tryAcquire();
        CircuitBreaker.Permit second = breaker.tryAcquire();
        CircuitBreaker.Permit third = breaker.tryAcquire();
        assertThat(first).isEqualTo(CircuitBreaker.Permit.PROBE);
        assertThat(third).isEqualTo(CircuitBreaker.Permit.PROBE);
        assertThat(breaker.tryAcquire()).isEqualTo(CircuitBreaker.Permit.REJECTED);

        breaker.record(first, false);
        breaker.record(second, false);
        assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.HALF_OPEN);
        breaker.record(third, false);
        assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.CLOSED);
        assertThat(breaker.tryAcquire()).isEqualTo(CircuitBreaker.Permit.NORMAL);
        assertThat(transitions).containsExactly(CircuitBreaker.State.OPEN, CircuitBreaker.State.HALF_OPEN,
                CircuitBreaker.State.CLOSED);
    }

    @Test
    void aFailedProbeOpensAgainForAnotherPeriod() {
        record(20, true);
        ticker.advance(Duration.ofSeconds(30));
        CircuitBreaker.Permit probe = breaker.tryAcquire();
        breaker.record(probe, true);

        assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.OPEN);
        ticker.advance(Duration.ofSeconds(29));
        assertThat(breaker.tryAcquire()).isEqualTo(CircuitBreaker.Permit.REJECTED);
        ticker.advance(Duration.ofSeconds(1));
        assertThat(breaker.tryAcquire()).isEqualTo(CircuitBreaker.Permit.PROBE);
    }

    private void record(int count, boolean failed) {
        for (int i = 0; i < count; i++) {
            breaker.record(breaker.tryAcquire(), failed);
        }
    }
}
