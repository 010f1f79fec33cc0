package io.trellis.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Opaque TCP through the mesh (issue 11, item 8), against peers we did not write: Debian's redis-server and
 * redis-cli (client speaks first), aiosmtpd and Python's smtplib (server speaks first), socat (a client that
 * half-closes, and {@code wc -c} behind socat as a server that answers once its input ended), openssl s_client as an
 * impostor at the tunnel port. {@code web} reaches {@code cache} (redis), {@code mail} (SMTP), {@code count}
 * ({@code wc -c}) and {@code down} (nothing listens on its declared port) through {@code --upstream NAME=PORT/tcp} listeners; each service declares
 * its TCP port in its TrafficPolicy.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MeshTcpTest {
    private static final Duration PEER_TIMEOUT = Duration.ofSeconds(30);

    private MeshHarness mesh;
    private SidecarProcess web;
    private SidecarProcess cache;
    private SidecarProcess down;
    private int redisPort;
    private int downPort;

    @BeforeAll
    void startMesh() throws Exception {
        mesh = MeshHarness.start();
        redisPort = MeshHarness.freePort();
        int smtpPort = MeshHarness.freePort();
        downPort = MeshHarness.freePort();
        int countPort = MeshHarness.freePort();
        mesh.launchPeer("redis", List.of("redis-server", "--port", Integer.toString(redisPort), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no"));
        mesh.launchPeer("smtp", List.of("/usr/bin/python3", "-u", "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:" + smtpPort));
        mesh.launchPeer("count", List.of("socat", "TCP-LISTEN:" + countPort + ",bind=127.0.0.1,reuseaddr,fork", "EXEC:wc -c"));
        MeshHarness.await(Duration.ofSeconds(30), "redis, aiosmtpd and socat to listen",
                () -> listening(redisPort) && listening(smtpPort) && listening(countPort));
        mesh.apply(tcpPolicy("cache", redisPort) + "---\n" + tcpPolicy("mail", smtpPort) + "---\n" + tcpPolicy("down", downPort)
                + "---\n" + tcpPolicy("count", countPort));
        cache = mesh.startSidecar("cache", MeshHarness.freePort());
        mesh.startSidecar("mail", MeshHarness.freePort());
        mesh.startSidecar("count", MeshHarness.freePort());
        down = mesh.startSidecar("down", MeshHarness.freePort());
        web = mesh.startSidecar("web", MeshHarness.freePort(), "--upstream", "cache/tcp", "--upstream", "mail/tcp",
                "--upstream", "count/tcp", "--upstream", "down/tcp", "--upstream", "cache:" + downPort + "/tcp");
        MeshHarness.await(Duration.ofSeconds(30), "web to reach redis through the mesh", this::redisAnswersPing);
    }

    @AfterAll
    void noNettyBufferLeakedThenStop() throws Exception {
        try {
            MeshHarness.assertNoBufferLeaked(() -> {
                redis("PING");
                return redisVia("down", "PING");
            }, web, cache, down);
        } finally {
            if (mesh != null) {
                mesh.close();
            }
        }
    }

    @Test
    void aRedisClientTalksToRedisThroughTwoSidecars() throws Exception {
        double accepted = Math.max(0, cache.metric(tcp("inbound", "cache", "accepted")));
        byte[] big = new byte[4 << 20];
        Arrays.fill(big, (byte) 'x');

        PeerCommand.Output set = redis("SET", "greeting", "hello");
        PeerCommand.Output get = redis("GET", "greeting");
        PeerCommand.Output setBig = PeerCommand.run(PEER_TIMEOUT, big, "redis-cli", "-p", Integer.toString(web.upstreamPort("cache")),
                "-x", "SET", "big");
        PeerCommand.Output length = redis("STRLEN", "big");

        assertThat(set.text()).as(set.toString()).contains("OK");
        assertThat(get.text()).contains("hello");
        assertThat(setBig.text()).as(setBig.toString()).contains("OK");
        assertThat(length.text().strip()).isEqualTo(Integer.toString(big.length));
        assertThat(cache.metric(tcp("inbound", "cache", "accepted"))).isGreaterThanOrEqualTo(accepted + 4);
        assertThat(web.metric("trellis_tcp_bytes_total{direction=\"outbound\",flow=\"to-upstream\",service=\"cache\"}"))
                .isGreaterThan(big.length);
    }

    @Test
    void aServerThatSpeaksFirstGreetsTheClientThroughTheMesh() throws Exception {
        String client = """
                import smtplib, sys
                with smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=20) as s:
                    print('greeting', s.ehlo()[0])
                    s.sendmail('web@example.org', ['ops@example.org'], 'Subject: hi\\r\\n\\r\\nhello-through-the-mesh\\r\\n')
                print('sent')
                """;

        PeerCommand.Output sent = PeerCommand.run(PEER_TIMEOUT, "/usr/bin/python3", "-c", client,
                Integer.toString(web.upstreamPort("mail")));

        assertThat(sent.text()).as(sent.toString()).contains("greeting 250").contains("sent");
        MeshHarness.await(Duration.ofSeconds(10), "aiosmtpd to print the message", () -> mesh.logTail("smtp.log")
                .contains("hello-through-the-mesh"));
    }

    @Test
    void aClientThatHalfClosesGetsTheAnswerSentAfterItsEnd() throws Exception {
        // Issue 11, "opaque TCP": a FIN closed the whole pair, so a client that sends its input, shuts down its sending
        // side and reads the answer (socat, nc -N, batch protocols) got nothing: wc -c answers only once its input
        // ended. The FIN now crosses both sidecars alone and the answer comes back the other way.
        byte[] input = "hello through a half-closed tunnel\n".getBytes(StandardCharsets.US_ASCII);

        PeerCommand.Output counted = PeerCommand.run(PEER_TIMEOUT, input, "socat", "-t", "10", "-",
                "TCP:127.0.0.1:" + web.upstreamPort("count"));

        assertThat(counted.text().strip()).as(counted.toString()).isEqualTo(Integer.toString(input.length));
    }

    @Test
    void aCallerThatAuthorizationDeniesIsResetAndTheRefusalCounted() throws Exception {
        String denied = tcp("inbound", "cache", "denied");
        double before = Math.max(0, cache.metric(denied));
        mesh.apply("""
                kind: AuthorizationPolicy
                metadata: {name: no-web-to-cache, namespace: default}
                spec:
                  service: cache
                  action: DENY
                  rules:
                  - from: [spiffe://cluster.local/ns/default/sa/web]
                """);
        try {
            MeshHarness.await(Duration.ofSeconds(30), "cache to deny web", () -> !redisAnswersPing());

            PeerCommand.Output refused = redis("PING");

            assertThat(refused.text()).as(refused.toString()).doesNotContain("PONG");
            assertThat(cache.metric(denied)).isGreaterThan(before);
            assertThat(web.metric(tcp("outbound", "cache", "denied"))).isPositive();
            assertThat(cache.logTail()).contains("refused (denied)");
        } finally {
            mesh.delete("authorizationpolicies", "no-web-to-cache");
        }
        MeshHarness.await(Duration.ofSeconds(30), "web to reach redis again", this::redisAnswersPing);
    }

    @Test
    void aPortTheServiceDoesNotDeclareIsNeverDialled() throws Exception {
        PeerCommand.Output undeclared = PeerCommand.run(PEER_TIMEOUT, "redis-cli", "-p",
                Integer.toString(web.upstreamPort("cache:" + downPort)), "PING");
        // A sidecar of the mesh (web's own certificate) asking cache's tunnel for a port cache does not declare.
        PeerCommand.Output impostor = tunnel(web, "TRELLIS-TCP/1 22\n");

        assertThat(undeclared.text()).doesNotContain("PONG");
        assertThat(web.metric(tcp("outbound", "cache", "no-route"))).isPositive();
        assertThat(impostor.text()).as(impostor.toString()).contains("ERR no-route");
        assertThat(cache.logTail()).contains("does not declare as TCP");
    }

    @Test
    void malformedOrOverlongTunnelRequestsAreRefusedAndTheSidecarKeepsServing() throws Exception {
        PeerCommand.Output garbage = tunnel(web, "GET / HTTP/1.1\n");
        PeerCommand.Output overlong = tunnel(web, "TRELLIS-TCP/1 " + "9".repeat(200) + "\n");
        PeerCommand.Output noCertificate = PeerCommand.run(PEER_TIMEOUT, ("TRELLIS-TCP/1 " + redisPort + "\n")
                        .getBytes(StandardCharsets.US_ASCII), "openssl", "s_client", "-quiet", "-connect",
                cache.address() + ":" + cache.tunnelPort(), "-CAfile", mesh.caBundle().toString());

        assertThat(garbage.text()).contains("ERR bad-request");
        assertThat(overlong.text()).contains("ERR bad-request");
        assertThat(noCertificate.text()).as(noCertificate.toString()).doesNotContain("OK").doesNotContain("ERR");
        assertThat(redis("PING").text()).contains("PONG");
    }

    @Test
    void aServiceWhoseAppIsDownResetsTheCallerAndSaysWhy() throws Exception {
        PeerCommand.Output refused = redisVia("down", "PING");

        assertThat(refused.text()).doesNotContain("PONG");
        MeshHarness.await(Duration.ofSeconds(10), "the refusal counted on both sides",
                () -> metric(web, tcp("outbound", "down", "upstream-connect-failure")) > 0
                        && metric(down, tcp("inbound", "down", "upstream-connect-failure")) > 0);
    }

    private boolean redisAnswersPing() {
        try {
            return redis("PING").text().contains("PONG");
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static double metric(SidecarProcess sidecar, String nameWithLabels) {
        try {
            return sidecar.metric(nameWithLabels);
        } catch (IOException e) {
            return -1;
        }
    }

    private PeerCommand.Output redis(String... command) throws IOException, InterruptedException {
        return redisVia("cache", command);
    }

    private PeerCommand.Output redisVia(String upstream, String... command) throws IOException, InterruptedException {
        String[] full = new String[command.length + 3];
        full[0] = "redis-cli";
        full[1] = "-p";
        full[2] = Integer.toString(web.upstreamPort(upstream));
        System.arraycopy(command, 0, full, 3, command.length);
        return PeerCommand.run(PEER_TIMEOUT, full);
    }

    /** openssl s_client at cache's tunnel port, presenting {@code as}'s mesh certificate, sending {@code line}. */
    private PeerCommand.Output tunnel(SidecarProcess as, String line) throws IOException, InterruptedException {
        String identity = as.stateDir().resolve("identity.pem").toString();
        return PeerCommand.run(PEER_TIMEOUT, line.getBytes(StandardCharsets.US_ASCII), "openssl", "s_client", "-quiet",
                "-connect", cache.address() + ":" + cache.tunnelPort(), "-cert", identity, "-key", identity,
                "-CAfile", mesh.caBundle().toString());
    }

    private static String tcp(String direction, String service, String outcome) {
        return "trellis_tcp_connections_total{direction=\"" + direction + "\",outcome=\"" + outcome + "\",service=\""
                + service + "\"}";
    }

    private static String tcpPolicy(String service, int port) {
        return "kind: TrafficPolicy\nmetadata: {name: " + service + ", namespace: default}\nspec: {service: " + service
                + ", ports: [{port: " + port + ", protocol: TCP}]}\n";
    }

    private static boolean listening(int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
