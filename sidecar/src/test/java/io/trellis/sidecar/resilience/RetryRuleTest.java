package io.trellis.sidecar.resilience;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.sidecar.config.ClusterPolicy;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletionException;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.junit.jupiter.api.Test;

class RetryRuleTest {
    @Test
    void namesTheConditionOfEachKindOfResult() {
        assertThat(RetryRule.condition(HttpResponse.create().withStatus(503), null, true)).contains("503");
        assertThat(RetryRule.condition(HttpResponse.create().withStatus(404), null, true)).isEmpty();
        assertThat(RetryRule.condition(HttpResponse.create().addHeader(RawHeader.create("grpc-status", "14")), null, true))
                .contains("unavailable");
        assertThat(RetryRule.condition(null, new CompletionException(
                new ProxyException(ProxyError.UPSTREAM_CONNECT_FAILURE, "cannot connect")), true)).contains("connect-failure");
        assertThat(RetryRule.condition(null, new ProxyException(ProxyError.UPSTREAM_RESET, "stream reset: REFUSED_STREAM"), true))
                .contains("refused-stream");
        assertThat(RetryRule.condition(null, new ProxyException(ProxyError.UPSTREAM_RESET, "broke"), true)).contains("reset");
        assertThat(RetryRule.condition(null, new ProxyException(ProxyError.OVERLOADED, "full"), true)).isEmpty();
        // The peer sidecar answering at the deadline this sidecar sent it is this attempt's timeout.
        assertThat(RetryRule.condition(HttpResponse.create().withStatus(504)
                .addHeader(RawHeader.create("trellis-error", "upstream-timeout")), null, true)).contains("per-try-timeout");
    }

    @Test
    void aPeerSidecarThatCouldNotReachItsAppMeansTheRequestNeverReachedIt() {
        HttpResponse refusedByPeer = HttpResponse.create().withStatus(503)
                .addHeader(RawHeader.create("trellis-error", "upstream-connect-failure"));
        HttpResponse peerNotReady = HttpResponse.create().withStatus(503)
                .addHeader(RawHeader.create("trellis-error", "identity-unavailable"));

        assertThat(RetryRule.condition(refusedByPeer, null, true)).contains("connect-failure");
        assertThat(RetryRule.condition(peerNotReady, null, true)).contains("refused-stream");
        assertThat(RetryRule.neverReachedApp("connect-failure")).isTrue();
        // An external service's header proves nothing: it is only a 503 there.
        assertThat(RetryRule.condition(refusedByPeer, null, false)).contains("503");
    }

    @Test
    void statusConditionsMatchExactlyOrByFamily() {
        assertThat(RetryRule.covered(policy("503"), "503")).isTrue();
        assertThat(RetryRule.covered(policy("503"), "500")).isFalse();
        assertThat(RetryRule.covered(policy("5xx"), "500")).isTrue();
        assertThat(RetryRule.covered(policy("gateway-error"), "504")).isTrue();
        assertThat(RetryRule.covered(policy("gateway-error"), "500")).isFalse();
        assertThat(RetryRule.covered(policy("connect-failure"), "reset")).isFalse();
    }

    @Test
    void onlyRequestsThatNeverReachedTheAppAreSafeForAnyMethod() {
        assertThat(RetryRule.neverReachedApp("connect-failure")).isTrue();
        assertThat(RetryRule.neverReachedApp("refused-stream")).isTrue();
        assertThat(RetryRule.neverReachedApp("reset")).isFalse();
        assertThat(RetryRule.neverReachedApp("503")).isFalse();
        assertThat(RetryRule.idempotent(HttpMethods.PUT)).isTrue();
        assertThat(RetryRule.idempotent(HttpMethods.POST)).isFalse();
        assertThat(RetryRule.idempotent(HttpMethods.PATCH)).isFalse();
    }

    @Test
    void honoursRetryAfterAndGrpcPushback() {
        assertThat(RetryRule.pushback(HttpResponse.create().addHeader(RawHeader.create("Retry-After", "2"))))
                .contains(Duration.ofSeconds(2));
        assertThat(RetryRule.pushback(HttpResponse.create().addHeader(RawHeader.create("grpc-retry-pushback-ms", "150"))))
                .contains(Duration.ofMillis(150));
        assertThat(RetryRule.pushback(HttpResponse.create().addHeader(RawHeader.create("Retry-After",
                "Wed, 21 Oct 2015 07:28:00 GMT")))).isEqualTo(Optional.empty());
    }

    private static ClusterPolicy.Retries policy(String condition) {
        ClusterPolicy.Retries d = ClusterPolicy.Retries.DEFAULTS;
        return new ClusterPolicy.Retries(2, null, Set.of(condition), d.backoffBase(), d.backoffMax(), d.budgetRatio(),
                d.budgetMinPerSecond(), false, d.maxBufferedBody());
    }
}
