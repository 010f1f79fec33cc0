package io.trellis.sidecar.resilience;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class RetryBudgetTest {
    private final ManualTicker ticker = new ManualTicker();

    @Test
    void allowsRatioOfRequestsPlusMinimumPerSecondOverTheWindow() {
        RetryBudget budget = new RetryBudget(0.2, 1, ticker);
        for (int i = 0; i < 100; i++) {
            budget.requested();
        }
        // 0.2 * 100 + 1/s * 10 s = 30 retries.
        assertThat(countRetries(budget, 100)).isEqualTo(30);
    }

    @Test
    void withoutTrafficOnlyTheMinimumIsAllowed() {
        RetryBudget budget = new RetryBudget(0.2, 0, ticker);
        assertThat(budget.tryRetry()).isFalse();
    }

    @Test
    void aFailingUpstreamSeesAtMostTheRatioOverOfferedLoad() {
        RetryBudget budget = new RetryBudget(0.2, 10, ticker);
        long sent = 0;
        long offered = 0;
        // 60 s at 100 requests per second, every attempt failing and every retry asked for.
        for (int second = 0; second < 60; second++) {
            for (int i = 0; i < 100; i++) {
                offered++;
                sent++;
                budget.requested();
                if (budget.tryRetry()) {
                    sent++;
                }
            }
            ticker.advance(Duration.ofSeconds(1));
        }
        // At most 1.2x the offered requests + 10/s (DESIGN.md §5), plus the first window's minimum.
        assertThat(sent).isLessThanOrEqualTo((long) (offered * 1.2) + 10 * 60 + 10 * 10);
        assertThat(sent).isGreaterThan(offered);
    }

    @Test
    void oldRequestsAndRetriesLeaveTheWindow() {
        RetryBudget budget = new RetryBudget(0.5, 0, ticker);
        for (int i = 0; i < 10; i++) {
            budget.requested();
        }
        assertThat(countRetries(budget, 10)).isEqualTo(5);
        ticker.advance(Duration.ofSeconds(11));
        assertThat(budget.tryRetry()).isFalse();
        budget.requested();
        budget.requested();
        assertThat(countRetries(budget, 10)).isEqualTo(1);
    }

    private static int countRetries(RetryBudget budget, int tries) {
        int allowed = 0;
        for (int i = 0; i < tries; i++) {
            if (budget.tryRetry()) {
                allowed++;
            }
        }
        return allowed;
    }
}
