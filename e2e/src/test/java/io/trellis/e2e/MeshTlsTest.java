package io.trellis.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.e2e.app.TestBackend;
import java.nio.file.Path;
import java.time.Duration;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * TLS as openssl s_client sees it (issue 12, item 12 and "TLS settings"): no client-initiated renegotiation, at the
 * sidecars (BoringSSL) or the control plane (the JDK's TLS), and no session resumed across a trust-bundle change. Its
 * own mesh, because one test rotates the mesh's root.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MeshTlsTest {
    private final ActorSystem<Void> system = MeshHarness.appSystem("tls-test");
    private MeshHarness mesh;
    private SidecarProcess echo;
    private SidecarProcess web;

    @BeforeAll
    void startMesh() throws Exception {
        mesh = MeshHarness.start();
        TestBackend backend = TestBackend.start(system, 0);
        echo = mesh.startSidecar("echo", backend.port());
        web = mesh.startSidecar("web", MeshHarness.freePort(), "--upstream", "echo");
        MeshHarness.awaitCurl(Duration.ofSeconds(30), "web to learn about echo", status -> status == 200,
                "http://127.0.0.1:" + web.upstreamPort("echo") + "/orders");
    }

    @AfterAll
    void stopMesh() throws Exception {
        if (mesh != null) {
            mesh.close();
        }
        system.terminate();
    }

    @Test
    void clientInitiatedRenegotiationIsRefusedBySidecarsAndTheControlPlane() throws Exception {
        // s_client renegotiates when it reads "R" at the start of a line; a server that allowed it would answer the
        // second ClientHello with a second ServerHello.
        Path identity = web.certificatesForPeerTools().resolve("client.pem");
        String[] targets = {
            echo.address() + ":" + echo.inboundPort() + " -cert " + identity + " -key " + identity,
            echo.address() + ":" + echo.tunnelPort() + " -cert " + identity + " -key " + identity,
            "127.0.0.1:" + mesh.grpcPort(),
        };
        for (String target : targets) {
            PeerCommand.Output out = PeerCommand.run(Duration.ofSeconds(30), "bash", "-c",
                    "(printf 'R\\n'; sleep 2) | openssl s_client -tls1_2 -msg -connect " + target + " 2>&1");

            String text = out.text();
            assertThat(text).as(target).contains("RENEGOTIATING");
            String after = text.substring(text.indexOf("RENEGOTIATING"));
            assertThat(after).as(target).contains("ClientHello").doesNotContain("ServerHello")
                    .containsPattern("no_renegotiation|no renegotiation|handshake_failure|handshake failure");
        }
        assertThat(echo.process().isAlive()).isTrue();
        assertThat(Curl.run("http://127.0.0.1:" + web.upstreamPort("echo") + "/orders").status()).isEqualTo(200);
    }

    @Test
    void aSessionMadeUnderTheOldTrustBundleIsNotResumedOnceItChanged() throws Exception {
        // Resumption skips the certificate check: a session from before a root was added or removed must not outlive
        // the change. TLS 1.2 session resumption, which BoringSSL offers, shows whether the server still knows it.
        Path identity = web.certificatesForPeerTools().resolve("client.pem");
        Path session = mesh.work().resolve("tls12-session.pem");
        String connect = "openssl s_client -tls1_2 -connect " + echo.address() + ":" + echo.inboundPort() + " -cert "
                + identity + " -key " + identity;
        PeerCommand.Output first = PeerCommand.run(Duration.ofSeconds(20), "bash", "-c",
                "sleep 1 | " + connect + " -sess_out " + session + " 2>&1");
        assertThat(first.text()).contains("New, TLSv1.2");
        String resume = "sleep 1 | " + connect + " -sess_in " + session + " 2>&1";
        assertThat(PeerCommand.run(Duration.ofSeconds(20), "bash", "-c", resume).text())
                .as("resumed under the same bundle").contains("Reused, TLSv1.2");

        double version = echo.metric("trellis_config_version");
        assertThat(mesh.post("/api/v1/ca/rotate", "").statusCode()).isEqualTo(202);
        // The new root reaches echo in a snapshot (its bundle: both roots).
        MeshHarness.await(Duration.ofSeconds(30), "echo to apply the snapshot with the new root", () -> {
            try {
                return echo.metric("trellis_config_version") > version;
            } catch (java.io.IOException notYet) {
                return false;
            }
        });
        MeshHarness.await(Duration.ofSeconds(20), "the old session to be refused", () -> {
            try {
                return PeerCommand.run(Duration.ofSeconds(20), "bash", "-c", resume).text().contains("New, TLSv1.2");
            } catch (java.io.IOException | InterruptedException e) {
                return false;
            }
        });
        assertThat(Curl.run("http://127.0.0.1:" + web.upstreamPort("echo") + "/orders").status())
                .as("the mesh serves across the rotation").isEqualTo(200);
    }
}
