package io.trellis.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.e2e.app.TestBackend;
import java.time.Duration;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The mesh under disturbance, with traffic flowing: certificate renewals, a snapshot the sidecars reject, the
 * control plane killed, and a sidecar restarted while the control plane is down. No request may fail.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MeshResilienceTest {
    private final ActorSystem<Void> system = MeshHarness.appSystem("resilience-test");
    private MeshHarness mesh;
    private TestBackend backend;
    private SidecarProcess echo;
    private SidecarProcess web;
    private String url;

    @BeforeAll
    void startMesh() throws Exception {
        mesh = MeshHarness.start();
        backend = TestBackend.start(system, 0);
        echo = mesh.startSidecar("echo", backend.port());
        web = mesh.startSidecar("web", MeshHarness.freePort(), "--upstream", "echo");
        url = "http://127.0.0.1:" + web.upstreamPort("echo") + "/echo";
        MeshHarness.awaitCurl(Duration.ofSeconds(30), "web to learn about echo", status -> status == 200, url);
    }

    @AfterAll
    void stopMesh() throws Exception {
        if (mesh != null) {
            mesh.close();
        }
        system.terminate();
    }

    @Test
    @Order(1)
    void certificateRenewalUnderContinuousTrafficFailsNoRequest() throws Exception {
        try (TrafficLoop traffic = TrafficLoop.start(url, 4, Duration.ofSeconds(60), 200_000)) {
            for (int round = 0; round < 3; round++) {
                for (SidecarProcess sidecar : new SidecarProcess[] {web, echo}) {
                    String before = sidecar.identity().get("serial").asText();
                    assertThat(sidecar.renew()).isEqualTo(202);
                    MeshHarness.await(Duration.ofSeconds(20), sidecar + " to install a new certificate", () -> {
                        try {
                            return !sidecar.identity().get("serial").asText().equals(before);
                        } catch (Exception e) {
                            return false;
                        }
                    });
                }
                long seen = traffic.succeeded();
                MeshHarness.await(Duration.ofSeconds(10), "requests over the new certificates", () -> traffic.succeeded() > seen + 50);
            }
            traffic.close();
            assertThat(traffic.failures()).isEmpty();
            assertThat(traffic.succeeded()).isGreaterThan(150);
        }
    }

    @Test
    @Order(2)
    void nackedSnapshotLeavesTrafficUntouched() throws Exception {
        double nacksBefore = web.metric("trellis_config_nacks_total");
        double versionBefore = web.metric("trellis_config_version");
        try (TrafficLoop traffic = TrafficLoop.start(url, 2, Duration.ofSeconds(60), 100_000)) {
            // Valid for the control plane, but these sidecars hold cluster.local identities: they must refuse it.
            mesh.apply("""
                    kind: MeshConfig
                    metadata: {name: default}
                    spec: {trustDomain: other.example}
                    """);
            mesh.awaitProxyStatus("web", "NACKED", Duration.ofSeconds(20));
            long seen = traffic.succeeded();
            MeshHarness.await(Duration.ofSeconds(10), "traffic after the NACK", () -> traffic.succeeded() > seen + 50);
            traffic.close();
            assertThat(traffic.failures()).isEmpty();
        } finally {
            mesh.apply("""
                    kind: MeshConfig
                    metadata: {name: default}
                    spec: {trustDomain: cluster.local}
                    """);
        }
        assertThat(web.metric("trellis_config_nacks_total")).isGreaterThan(nacksBefore);
        assertThat(web.metric("trellis_config_version")).isEqualTo(versionBefore);
        mesh.awaitProxyStatus("web", "SYNCED", Duration.ofSeconds(20));
    }

    @Test
    @Order(3)
    void controlPlaneKilledUnderTrafficFailsNoRequestAndARestartedSidecarStillServes() throws Exception {
        try (TrafficLoop traffic = TrafficLoop.start(url, 4, Duration.ofSeconds(60), 200_000)) {
            long before = traffic.succeeded();
            MeshHarness.await(Duration.ofSeconds(10), "traffic to flow", () -> traffic.succeeded() > before + 50);
            mesh.killControlPlane();
            long afterKill = traffic.succeeded();
            MeshHarness.await(Duration.ofSeconds(10), "traffic with the control plane dead", () -> traffic.succeeded() > afterKill + 500);
            traffic.close();
            assertThat(traffic.failures()).isEmpty();
        }

        web.stop();
        web.start();  // ready again from its state directory: saved key, certificate and snapshot
        Curl.Result afterRestart = Curl.run(url);
        assertThat(afterRestart.status()).as("%s\n%s", afterRestart.body(), web.logTail()).isEqualTo(200);

        mesh.startControlPlane();
        mesh.awaitProxyStatus("web", "SYNCED", Duration.ofSeconds(30));
        assertThat(Curl.run(url).status()).isEqualTo(200);
    }

    @Test
    @Order(4)
    void sigtermDrainsInFlightRequestsRefusesNewConnectionsAndExits() throws Exception {
        long arrived = backend.requests();
        java.util.concurrent.CompletableFuture<Curl.Result> inFlight = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return Curl.run("http://127.0.0.1:" + web.upstreamPort("echo") + "/slow?ms=3000");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        MeshHarness.await(Duration.ofSeconds(10), "the slow request to reach the app", () -> backend.requests() > arrived);

        echo.process().destroy();  // SIGTERM

        MeshHarness.await(Duration.ofSeconds(5), "echo to report not ready", () -> {
            try {
                return echo.admin("/healthz/ready").statusCode() == 503;
            } catch (Exception e) {
                return false;
            }
        });
        MeshHarness.await(Duration.ofSeconds(5), "echo to refuse new inbound connections", () -> {
            try (java.net.Socket socket = new java.net.Socket()) {
                socket.connect(new java.net.InetSocketAddress(echo.address(), echo.inboundPort()), 500);
                return false;
            } catch (java.io.IOException refused) {
                return true;
            }
        });
        Curl.Result finished = inFlight.get(20, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(finished.status()).as(finished.body()).isEqualTo(200);
        assertThat(finished.body()).contains("sleptMs");
        assertThat(echo.process().waitFor(20, java.util.concurrent.TimeUnit.SECONDS)).as("echo exits after draining").isTrue();
    }
}
