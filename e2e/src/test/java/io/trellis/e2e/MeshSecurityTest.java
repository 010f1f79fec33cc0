package io.trellis.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.certs.CertificateAuthority;
import io.trellis.certs.CsrFactory;
import io.trellis.certs.IssuedCertificate;
import io.trellis.certs.OwnerOnlyFiles;
import io.trellis.certs.Pem;
import io.trellis.certs.SpiffeId;
import io.trellis.e2e.app.TestBackend;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Who may reach an app: callers without a certificate, with one from another CA, with an identity the
 * AuthorizationPolicy does not allow, and plaintext callers in STRICT and PERMISSIVE mode.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MeshSecurityTest {
    private final ActorSystem<Void> system = MeshHarness.appSystem("security-test");
    private MeshHarness mesh;
    private SidecarProcess echo;
    private SidecarProcess web;
    private SidecarProcess billing;

    @BeforeAll
    void startMesh() throws Exception {
        mesh = MeshHarness.start();
        mesh.apply("""
                kind: AuthorizationPolicy
                metadata: {name: echo-callers, namespace: default}
                spec:
                  service: echo
                  action: ALLOW
                  rules:
                    - from: ["spiffe://cluster.local/ns/default/sa/web"]
                    - to: {paths: ["/public/*"]}
                """);
        TestBackend backend = TestBackend.start(system, 0);
        echo = mesh.startSidecar("echo", backend.port());
        web = mesh.startSidecar("web", MeshHarness.freePort(), "--upstream", "echo");
        billing = mesh.startSidecar("billing", MeshHarness.freePort(), "--upstream", "echo");
        for (SidecarProcess caller : new SidecarProcess[] {web, billing}) {
            MeshHarness.awaitCurl(Duration.ofSeconds(30), caller + " to learn about echo", status -> status == 200,
                    "http://127.0.0.1:" + caller.upstreamPort("echo") + "/public/x");
        }
    }

    @AfterAll
    void stopMesh() throws Exception {
        if (mesh != null) {
            mesh.close();
        }
        system.terminate();
    }

    private String inbound(String scheme, String path) {
        return scheme + "://" + echo.address() + ":" + echo.inboundPort() + path;
    }

    @Test
    void continuationFloodsFromAClientWithoutACertificateLeaveTheSidecarServing() throws Exception {
        // Issue 12, item 1 (CVE-2024-30255 class): two TLS connections with no client certificate, each sending one
        // unterminated header block of up to 25 MiB in CONTINUATION frames, at once (python3-h2's frames).
        assertContinuationFloodsAreCut(echo, echo.address(), echo.inboundPort(), "-");
    }

    @Test
    void continuationFloodsOnTheAppFacingH2cPortLeaveTheSidecarServing() throws Exception {
        // The same floods in plaintext HTTP/2 on web's outbound port: what a compromised app could send its sidecar.
        assertContinuationFloodsAreCut(web, "127.0.0.1", web.outboundPort(), "h2c");
    }

    /** Two floods at once at {@code host:port} ({@code mode} as h2_floods.py takes it): both cut, {@code target} serving. */
    private void assertContinuationFloodsAreCut(SidecarProcess target, String host, int port, String mode) throws Exception {
        String flood = MeshHarness.peers().resolve("h2_floods.py").toString();
        Process first = new ProcessBuilder("/usr/bin/python3", flood, "continuation", host, Integer.toString(port), mode, "25")
                .redirectErrorStream(true).start();
        Process second = new ProcessBuilder("/usr/bin/python3", flood, "continuation", host, Integer.toString(port), mode, "25")
                .redirectErrorStream(true).start();
        String firstOut = new String(first.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        String secondOut = new String(second.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(first.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        assertThat(second.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();

        // Each connection is cut (GOAWAY or closed) long before 25 MiB, and the sidecar lives on and serves.
        for (String out : new String[] {firstOut, secondOut}) {
            assertThat(out).as(out).containsPattern("server: (goaway|closed)");
            assertThat(Double.parseDouble(out.replaceAll("(?s).*sent ([0-9.]+) MiB.*", "$1"))).as(out).isLessThan(25);
        }
        assertThat(target.process().isAlive()).as(target.logTail()).isTrue();
        assertThat(Curl.run("http://127.0.0.1:" + web.upstreamPort("echo") + "/orders").status()).isEqualTo(200);
    }

    @Test
    void allowedIdentityReachesTheApp() throws Exception {
        assertThat(Curl.run("http://127.0.0.1:" + web.upstreamPort("echo") + "/orders").status()).isEqualTo(200);
    }

    @Test
    void identityThePolicyDoesNotAllowIsDenied() throws Exception {
        Curl.Result result = Curl.run("http://127.0.0.1:" + billing.upstreamPort("echo") + "/orders");

        assertThat(result.status()).isEqualTo(403);
        assertThat(result.header("trellis-error")).isEqualTo("denied");
        assertThat(result.body()).contains("no ALLOW policy matches spiffe://cluster.local/ns/default/sa/billing GET /orders");
    }

    @Test
    void pathTricksAreNormalisedBeforeAuthorization() throws Exception {
        // /public/../orders must be judged as /orders, not as a /public/* path.
        Curl.Result result = Curl.run("--path-as-is", "http://127.0.0.1:" + billing.upstreamPort("echo") + "/public/../orders");

        assertThat(result.status()).isEqualTo(403);
        assertThat(result.header("trellis-error")).isEqualTo("denied");
    }

    @Test
    void callerWithoutClientCertificateIsDenied() throws Exception {
        Curl.Result result = Curl.run("-k", inbound("https", "/public/x"));

        assertThat(result.status()).isEqualTo(403);
        assertThat(result.header("trellis-error")).isEqualTo("denied");
        assertThat(result.body()).contains("mTLS required");
    }

    @Test
    void callerWithCertificateFromAnotherCaFailsTheHandshake() throws Exception {
        CertificateAuthority foreign = CertificateAuthority.generateRoot("cluster.local", Clock.systemUTC());
        SpiffeId impostor = SpiffeId.forWorkload("cluster.local", "default", "web");
        KeyPair keys = CsrFactory.generateKeyPair();
        IssuedCertificate issued = foreign.issueWorkload(CsrFactory.createCsr(keys, impostor), impostor, Duration.ofHours(1));
        Path cert = mesh.work().resolve("foreign-cert.pem");
        Path key = mesh.work().resolve("foreign-key.pem");
        OwnerOnlyFiles.write(cert, Pem.encodeCertificates(issued.chain()));
        OwnerOnlyFiles.write(key, Pem.encodePrivateKey(keys.getPrivate()));
        double failuresBefore = Math.max(0, echo.metric("trellis_tls_handshake_failures_total{direction=\"inbound\"}"));

        Curl.Result result = Curl.run("-k", "--cert", cert.toString(), "--key", key.toString(), inbound("https", "/public/x"));

        assertThat(result.exitCode()).as("curl must not get a response: %s", result.body()).isNotZero();
        assertThat(echo.metric("trellis_tls_handshake_failures_total{direction=\"inbound\"}")).isGreaterThan(failuresBefore);
    }

    @Test
    void plaintextIsRefusedInStrictModeAndAcceptedInPermissiveMode() throws Exception {
        Curl.Result strict = Curl.run(inbound("http", "/public/x"));
        assertThat(strict.status()).isEqualTo(403);
        assertThat(strict.body()).contains("plaintext is not accepted");

        mesh.apply("""
                kind: MeshConfig
                metadata: {name: default}
                spec: {mtls: PERMISSIVE}
                """);
        try {
            MeshHarness.awaitCurl(Duration.ofSeconds(20), "PERMISSIVE mode to reach the sidecar", status -> status == 200,
                    inbound("http", "/public/x"));
            // A plaintext caller has no identity, so identity-based rules still deny it.
            Curl.Result anonymous = Curl.run(inbound("http", "/orders"));
            assertThat(anonymous.status()).isEqualTo(403);
            assertThat(anonymous.body()).contains("a plaintext caller");
        } finally {
            mesh.apply("""
                    kind: MeshConfig
                    metadata: {name: default}
                    spec: {mtls: STRICT}
                    """);
        }
        MeshHarness.awaitCurl(Duration.ofSeconds(20), "STRICT mode to come back", status -> status == 403,
                inbound("http", "/public/x"));
    }
}
