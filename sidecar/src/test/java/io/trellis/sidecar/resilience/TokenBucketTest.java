package io.trellis.sidecar.resilience;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.sidecar.config.InboundPolicy;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class TokenBucketTest {
    private final ManualTicker ticker = new ManualTicker();

    @Test
    void admitsTheBurstThenTheRate() {
        TokenBucket bucket = new TokenBucket(10, 5, ticker);
        assertThat(admitted(bucket, 100)).isEqualTo(5);
        ticker.advance(Duration.ofMillis(300));
        assertThat(admitted(bucket, 100)).isEqualTo(3);
    }

    @Test
    void admitsTheConfiguredRateOverTime() {
        TokenBucket bucket = new TokenBucket(50, 1, ticker);
        int admitted = 0;
        for (int ms = 0; ms < 10_000; ms++) {
            admitted += admitted(bucket, 1);
            ticker.advance(Duration.ofMillis(1));
        }
        assertThat(admitted).isBetween(499, 501);
    }

    @Test
    void neverHoldsMoreThanTheBurst() {
        TokenBucket bucket = new TokenBucket(10, 2, ticker);
        ticker.advance(Duration.ofHours(1));
        assertThat(admitted(bucket, 10)).isEqualTo(2);
    }

    @Test
    void perCallerLimitsGiveEachCallerItsOwnBucket() {
        RateLimiter limiter = new RateLimiter(new InboundPolicy.RateLimit(1, 2, true), ticker);
        assertThat(limiter.tryAcquire("spiffe://td/ns/a/sa/x")).isTrue();
        assertThat(limiter.tryAcquire("spiffe://td/ns/a/sa/x")).isTrue();
        assertThat(limiter.tryAcquire("spiffe://td/ns/a/sa/x")).isFalse();
        assertThat(limiter.tryAcquire("spiffe://td/ns/a/sa/y")).isTrue();
    }

    @Test
    void sharedLimitCountsEveryCallerTogether() {
        RateLimiter limiter = new RateLimiter(new InboundPolicy.RateLimit(1, 2, false), ticker);
        assertThat(limiter.tryAcquire("a")).isTrue();
        assertThat(limiter.tryAcquire("b")).isTrue();
        assertThat(limiter.tryAcquire("c")).isFalse();
    }

    private static int admitted(TokenBucket bucket, int tries) {
        int admitted = 0;
        for (int i = 0; i < tries; i++) {
            if (bucket.tryAcquire()) {
                admitted++;
            }
        }
        return admitted;
    }
}
