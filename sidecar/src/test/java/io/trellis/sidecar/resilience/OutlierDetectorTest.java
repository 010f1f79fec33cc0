package io.trellis.sidecar.resilience;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.certs.SpiffeId;
import io.trellis.sidecar.config.ClusterPolicy;
import io.trellis.sidecar.config.Endpoint;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** The detector with a manual ticker; reviews are sent by the test (the interval timer is an hour away). */
class OutlierDetectorTest {
    private static final ActorTestKit KIT = ActorTestKit.create();
    private static final ClusterPolicy.Outlier POLICY = new ClusterPolicy.Outlier(3, Duration.ofHours(1),
            Duration.ofSeconds(30), 50);

    private final ManualTicker ticker = new ManualTicker();
    private final Endpoint a = endpoint("10.0.0.1");
    private final Endpoint b = endpoint("10.0.0.2");
    private final Endpoint c = endpoint("10.0.0.3");
    private final Endpoint d = endpoint("10.0.0.4");
    private final EndpointHealth health = new EndpointHealth(POLICY.consecutiveErrors(), count -> { });
    private final ActorRef<OutlierDetector.Command> detector = KIT.spawn(
            OutlierDetector.create(POLICY, health, Set.of(a, b, c, d), ticker));

    @AfterAll
    static void stopKit() {
        KIT.shutdownTestKit();
    }

    @Test
    void ejectsAfterConsecutiveGatewayErrorsAndReturnsAfterTheEjectionTime() {
        failTimes(a, 3);
        assertThat(ejected()).containsExactly(a);
        assertThat(health.isEjected(a)).isTrue();

        ticker.advance(Duration.ofSeconds(29));
        assertThat(review()).containsExactly(a);
        ticker.advance(Duration.ofSeconds(1));
        assertThat(review()).isEmpty();
        assertThat(health.isEjected(a)).isFalse();
    }

    @Test
    void aSuccessBreaksTheStreak() {
        health.record(b, true);
        health.record(b, true);
        health.record(b, false);
        failTimes(b, 2);
        assertThat(review()).isEmpty();
    }

    @Test
    void ejectionTimeGrowsWithEachEjection() {
        failTimes(c, 3);
        assertThat(ejected()).containsExactly(c);
        ticker.advance(Duration.ofSeconds(30));
        assertThat(review()).isEmpty();

        failTimes(c, 3);
        assertThat(ejected()).containsExactly(c);
        ticker.advance(Duration.ofSeconds(30));
        assertThat(review()).as("second ejection lasts 2 x 30 s").containsExactly(c);
        ticker.advance(Duration.ofSeconds(30));
        assertThat(review()).isEmpty();
    }

    @Test
    void neverEjectsMoreThanTheMaximumShare() {
        for (Endpoint endpoint : new Endpoint[] {a, b, c, d}) {
            failTimes(endpoint, 3);
        }
        assertThat(ejected()).hasSize(2);
        assertThat(review()).hasSize(2);
    }

    private void failTimes(Endpoint endpoint, int times) {
        for (int i = 0; i < times; i++) {
            if (health.record(endpoint, true)) {
                detector.tell(new OutlierDetector.ThresholdReached(endpoint));
            }
        }
    }

    /** Sends a review and returns the ejected set once the detector has handled it. */
    private Set<Endpoint> review() {
        detector.tell(OutlierDetector.Review.INSTANCE);
        return ejected();
    }

    /** The detector's ejected set, after every message sent before (mailbox order). */
    private Set<Endpoint> ejected() {
        TestProbe<Set<Endpoint>> probe = KIT.createTestProbe();
        detector.tell(new OutlierDetector.GetEjected(probe.ref()));
        Set<Endpoint> ejected = probe.receiveMessage();
        assertThat(health.ejected()).as("published set").isEqualTo(ejected);
        return ejected;
    }

    private static Endpoint endpoint(String address) {
        return Endpoint.of(address, 15006, SpiffeId.parse("spiffe://cluster.local/ns/default/sa/echo"), Map.of(), 1);
    }
}
