package io.trellis.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Protocol fidelity against peers we did not write (issue 11): a Node {@code @grpc/grpc-js} server and client, a
 * strict HTTP/2 server on Debian's {@code python3-h2} that refuses a stream without {@code :scheme} or
 * {@code :authority} (as Go's and grpc-js's servers do), curl and nghttp. Each test is one "what was seen" item
 * and failed before its fix. The peers are installed by {@code e2e/peers/install.sh} (which {@code .ci/run} runs).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MeshConformanceTest {
    private static final Path GRPC = MeshHarness.peers().resolve("grpc");
    private static final Path WEBSOCKET_PEER = MeshHarness.peers().resolve("ws_peer.py");

    private MeshHarness mesh;
    private SidecarProcess web;
    private SidecarProcess ledgerDown;
    private SidecarProcess lengths;

    @BeforeAll
    void startMesh() throws Exception {
        if (!Files.isDirectory(GRPC.resolve("node_modules/@grpc/grpc-js")) || !python3Has("h2") || !python3Has("websockets")) {
            throw new IllegalStateException("the third-party peers are missing: run e2e/peers/install.sh (as root) first");
        }
        mesh = MeshHarness.start();
        int greeterApp = MeshHarness.freePort();
        int strictApp = MeshHarness.freePort();
        int ledgerApp = MeshHarness.freePort();
        mesh.launchPeer("grpc-js-server", List.of("node", GRPC.resolve("server.js").toString(), Integer.toString(greeterApp)));
        mesh.launchPeer("grpc-js-ledger", List.of("node", GRPC.resolve("server.js").toString(), Integer.toString(ledgerApp)));
        mesh.launchPeer("strict-h2", List.of("/usr/bin/python3", MeshHarness.peers().resolve("strict_h2_app.py").toString(),
                Integer.toString(strictApp)));
        MeshHarness.await(Duration.ofSeconds(30), "the peers to listen", () -> log("grpc-js-server").contains("ready")
                && log("strict-h2").contains("ready") && log("grpc-js-ledger").contains("ready"));
        mesh.startSidecar("greeter", greeterApp, "--app-protocol", "h2c");
        mesh.startSidecar("strict", strictApp, "--app-protocol", "h2c");
        // ledger: two endpoints, one of them a sidecar whose app is down (nothing listens on its app port).
        ledgerDown = mesh.startSidecar("ledger", MeshHarness.freePort(), "--app-protocol", "h2c");
        mesh.startSidecar("ledger", ledgerApp, "--app-protocol", "h2c");
        // flaky: Python's http.server failing every second request; shop: subsets v1 and v2, one endpoint each.
        mesh.startSidecar("flaky", recordingApp("flaky-app"));
        mesh.startSidecar("shop", recordingApp("shop-v1"), "--label", "version=v1");
        mesh.startSidecar("shop", recordingApp("shop-v2"), "--label", "version=v2");
        lengths = mesh.startSidecar("lengths", recordingApp("lengths-app"));
        // chat: a WebSocket echo server on Debian's python3-websockets.
        int chatApp = MeshHarness.freePort();
        mesh.launchPeer("ws-server", List.of("/usr/bin/python3", WEBSOCKET_PEER.toString(), "server", Integer.toString(chatApp)));
        MeshHarness.await(Duration.ofSeconds(20), "the WebSocket server to listen", () -> log("ws-server").contains("ready"));
        mesh.startSidecar("chat", chatApp);
        web = mesh.startSidecar("web", MeshHarness.freePort(), "--upstream", "greeter", "--upstream", "strict",
                "--upstream", "ledger", "--upstream", "flaky", "--upstream", "shop", "--upstream", "lengths",
                "--upstream", "chat");
        MeshHarness.await(Duration.ofSeconds(30), "web to reach greeter", () -> grpc("greeter", "say", "warm-up", "0", "5000")
                .get("code").asInt() == 0);
    }

    @AfterAll
    void stopMesh() throws Exception {
        if (mesh != null) {
            mesh.close();
        }
    }

    @Test
    void aGrpcJsServerAnswersAGrpcJsClientThroughTheMesh() throws Exception {
        String ok = "trellis_grpc_responses_total{direction=\"outbound\",grpc_status=\"OK\",service=\"greeter\"}";
        double okBefore = Math.max(0, metric(web, ok));

        JsonNode outcome = grpc("greeter", "say", "hello", "0", "5000");

        assertThat(outcome.get("code").asInt()).as(outcome.toString()).isZero();
        assertThat(outcome.get("replies").asInt()).isEqualTo(1);
        JsonNode served = lastCall("Say", "hello");
        assertThat(served.get("authority").asText()).as("the :authority the app received").isNotBlank();
        MeshHarness.await(Duration.ofSeconds(10), "the call counted as OK", () -> metric(web, ok) > okBefore);
    }

    @Test
    void aStrictHttp2AppGetsSchemeAndAuthorityFromEveryCaller() throws Exception {
        String url = "http://127.0.0.1:" + web.upstreamPort("strict") + "/";

        Curl.Result http1 = Curl.run(url);
        Curl.Result h2c = Curl.run("--http2-prior-knowledge", url);
        Process nghttp = new ProcessBuilder("nghttp", "-n", "--stat", url).redirectErrorStream(true).start();
        String nghttpOut = new String(nghttp.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(nghttp.waitFor(30, TimeUnit.SECONDS)).isTrue();

        assertThat(http1.status()).as(http1.body()).isEqualTo(200);
        assertThat(http1.body()).isEqualTo("ok\n");
        assertThat(h2c.status()).as(h2c.body()).isEqualTo(200);
        assertThat(nghttp.exitValue()).as(nghttpOut).isZero();
        assertThat(log("strict-h2")).doesNotContain("refused").doesNotContain("connection-error");
    }

    @Test
    void aServerStreamLongerThanTheRequestTimeoutLivesAsLongAsItsCallerAllows() throws Exception {
        mesh.apply("""
                kind: TrafficPolicy
                metadata: {name: greeter, namespace: default}
                spec: {service: greeter, timeouts: {request: 2s}}
                """);
        try {
            MeshHarness.await(Duration.ofSeconds(30), "web to apply the 2 s request timeout",
                    () -> grpc("greeter", "say", "slow", "2500", "10000").get("code").asInt() == 4);

            JsonNode outcome = grpc("greeter", "stream", "long", "5", "1000", "30000");

            assertThat(outcome.get("code").asInt()).as(outcome.toString()).isZero();
            assertThat(outcome.get("replies").asInt()).isEqualTo(5);
            assertThat(outcome.get("ms").asInt()).isGreaterThanOrEqualTo(4000);
        } finally {
            mesh.delete("trafficpolicies", "greeter");
        }
    }

    @Test
    void aPassedDeadlineIsDeadlineExceededAndCountedAsAFailure() throws Exception {
        String exceeded = "trellis_grpc_responses_total{direction=\"outbound\",grpc_status=\"DEADLINE_EXCEEDED\",service=\"greeter\"}";
        String failed = "trellis_requests_total{direction=\"outbound\",service=\"greeter\",status_class=\"5xx\"}";
        double exceededBefore = Math.max(0, metric(web, exceeded));
        double failedBefore = Math.max(0, metric(web, failed));

        JsonNode outcome = grpc("greeter", "say", "late", "3000", "500");

        assertThat(outcome.get("code").asInt()).as(outcome.toString()).isEqualTo(4);
        MeshHarness.await(Duration.ofSeconds(10), "the call counted as DEADLINE_EXCEEDED", () -> metric(web, exceeded) > exceededBefore);
        assertThat(metric(web, failed)).as("counted as 5xx, never as the 2xx of its HTTP status").isGreaterThan(failedBefore);
    }

    @Test
    void aPassedDeadlineCancelsTheCallAtTheServer() throws Exception {
        JsonNode outcome = grpc("greeter", "say", "cancel-me", "3000", "300");

        assertThat(outcome.get("code").asInt()).as(outcome.toString()).isEqualTo(4);
        JsonNode served = awaitCall("Say", "cancel-me");
        assertThat(served.get("cancelled").asBoolean()).as(served.toString()).isTrue();
        assertThat(served.get("ms").asInt()).as("cancelled before the call's own 3 s end").isLessThan(3000);
    }

    @Test
    void aCallerThatCancelsCancelsTheCallAtTheServerAtOnce() throws Exception {
        String cancelled = "trellis_grpc_responses_total{direction=\"outbound\",grpc_status=\"CANCELLED\",service=\"greeter\"}";
        String aborted = "trellis_errors_total{code=\"client-aborted\",direction=\"outbound\"}";
        double cancelledBefore = Math.max(0, metric(web, cancelled));
        double abortedBefore = Math.max(0, metric(web, aborted));
        double retriesBefore = web.metricSum("trellis_retries_total", "service=\"greeter\"");

        // The client cancels 300 ms into a call the server would end after 3 s.
        JsonNode outcome = grpc("greeter", "cancel", "cancel-explicit", "3000", "300");

        assertThat(outcome.get("code").asInt()).as(outcome.toString()).isEqualTo(1);
        JsonNode served = awaitCall("Say", "cancel-explicit");
        assertThat(served.get("cancelled").asBoolean()).as(served.toString()).isTrue();
        assertThat(served.get("ms").asInt()).as("cancelled soon after the client's cancel at 300 ms").isLessThan(1500);
        MeshHarness.await(Duration.ofSeconds(10), "the call counted as CANCELLED", () -> metric(web, cancelled) > cancelledBefore);
        assertThat(metric(web, aborted)).as("counted as the client's abort").isGreaterThan(abortedBefore);
        assertThat(web.metricSum("trellis_retries_total", "service=\"greeter\"")).as("a cancel is never retried")
                .isEqualTo(retriesBefore);
    }

    @Test
    void oneStreamTheAppResetsFailsAloneAndItsNeighboursAreAnswered() throws Exception {
        String strict = "http://127.0.0.1:" + web.upstreamPort("strict");
        // One h2c connection from nghttp, five of each at once: the app answers /slow after 1 s and resets /reset.
        Process nghttp = new ProcessBuilder("nghttp", "-n", "--stat", "-m", "5", strict + "/slow", strict + "/reset")
                .redirectErrorStream(true).start();
        String out = new String(nghttp.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(nghttp.waitFor(30, TimeUnit.SECONDS)).isTrue();

        // nghttp's --stat table: one line per stream with its status, after "sizes" and "times" headers.
        long answered = out.lines().filter(line -> line.endsWith("/slow") && line.contains(" 200 ")).count();
        long failed = out.lines().filter(line -> line.endsWith("/reset") && line.contains(" 502 ")).count();
        assertThat(answered).as(out).isEqualTo(5);
        assertThat(failed).as(out).isEqualTo(5);
        assertThat(log("strict-h2")).contains("reset /reset");
    }

    @Test
    void aCallThatNeverReachedTheAppIsRetriedWhateverItsMethod() throws Exception {
        // gRPC calls are POSTs: never retried unless the sidecar knows the app did not see them.
        List<JsonNode> outcomes = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            outcomes.add(grpc("ledger", "say", "entry-" + i, "0", "10000"));
        }

        assertThat(outcomes).allSatisfy(outcome -> assertThat(outcome.get("code").asInt()).as(outcome.toString()).isZero());
        assertThat(ledgerDown.metric("trellis_errors_total{code=\"upstream-connect-failure\",direction=\"inbound\"}"))
                .as("calls that reached the sidecar whose app is down").isPositive();
        assertThat(web.metricSum("trellis_retries_total", "service=\"ledger\"")).isPositive();
    }

    @Test
    void aFaultThatRetriesRecoverFromKeepsEveryRequestServed() throws Exception {
        // Every second attempt fails; with the default retries every request succeeds, and the breaker, which
        // counts what callers experience, must stay closed (it used to count attempts and open after ten requests).
        List<Integer> statuses = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            statuses.add(Curl.run("http://127.0.0.1:" + web.upstreamPort("flaky") + "/flaky/" + i).status());
        }

        assertThat(statuses).as("40 GETs through a half-failing upstream").containsOnly(200);
        assertThat(log("flaky-app")).contains("\"status\": 503");
    }

    @Test
    void aFailingSubsetTripsOnlyItsOwnBreaker() throws Exception {
        mesh.apply("""
                kind: TrafficPolicy
                metadata: {name: shop, namespace: default}
                spec: {service: shop, outlierDetection: {consecutiveErrors: 1000}}
                ---
                kind: Route
                metadata: {name: shop, namespace: default}
                spec:
                  service: shop
                  rules:
                    - match: {headers: {x-api-version: {exact: v2}}}
                      backends: [{subset: {version: v2}, weight: 100}]
                    - match: {path: {prefix: /}}
                      backends: [{subset: {version: v1}, weight: 100}]
                """);
        String shop = "http://127.0.0.1:" + web.upstreamPort("shop");
        try {
            MeshHarness.await(Duration.ofSeconds(30), "web to route x-api-version: v2 to the v2 subset", () -> {
                try {
                    Curl.run("-H", "x-api-version: v2", shop + "/probe");
                } catch (IOException | InterruptedException e) {
                    return false;
                }
                return log("shop-v2").contains("/probe");
            });
            // v1 fails everything: its breaker opens (20 failed requests at the default 50 %) and fails fast.
            String last = "";
            for (int i = 0; i < 60 && !last.equals("circuit-open"); i++) {
                Curl.Result failing = Curl.run(shop + "/fail/" + i);
                last = failing.header("trellis-error") == null ? "" : failing.header("trellis-error");
            }
            assertThat(last).as("the v1 subset's breaker").isEqualTo("circuit-open");

            List<Integer> v2 = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                v2.add(Curl.run("-H", "x-api-version: v2", shop + "/healthy/" + i).status());
            }
            assertThat(v2).as("requests routed to the healthy v2 subset").containsOnly(200);
            assertThat(web.metric("trellis_circuit_state{service=\"shop\",subset=\"version=v1\"}")).isEqualTo(1);
        } finally {
            mesh.delete("routes", "shop");
            mesh.delete("trafficpolicies", "shop");
        }
    }

    @Test
    void aKnownLengthStaysAKnownLengthInBothDirections() throws Exception {
        String lengths = "http://127.0.0.1:" + web.upstreamPort("lengths");
        byte[] body = new byte[1000];
        java.util.Arrays.fill(body, (byte) 'a');
        Path upload = mesh.work().resolve("upload-1000.bin");
        Files.write(upload, body);

        Curl.Result posted = Curl.run("--data-binary", "@" + upload, "-H", "Content-Type: application/octet-stream",
                lengths + "/upload");
        Curl.Result sized = Curl.run(lengths + "/sized/1000");
        Curl.Result head = Curl.run("-I", lengths + "/sized/1234");

        assertThat(posted.status()).as(posted.body()).isEqualTo(200);
        JsonNode received = recorded("lengths-app", "/upload");
        assertThat(received.get("content_length").asText()).as(received.toString()).isEqualTo("1000");
        assertThat(received.get("transfer_encoding").isNull()).as(received.toString()).isTrue();
        assertThat(received.get("body_bytes").asInt()).isEqualTo(1000);
        assertThat(sized.header("content-length")).as(sized.headers().toString()).isEqualTo("1000");
        assertThat(sized.header("transfer-encoding")).isNull();
        assertThat(sized.body()).hasSize(1000);
        assertThat(head.header("content-length")).as(head.headers().toString()).isEqualTo("1234");
    }

    @Test
    void headerValuesCrossThePairVerbatimInBothDirections() throws Exception {
        // Values the model's typed headers would re-render ("text/html, application/json;q=0.9", "no-store, max-age=0").
        String accept = "text/html,application/json;q=0.9";
        Curl.Result answer = Curl.run("-H", "Accept: " + accept, "http://127.0.0.1:" + web.upstreamPort("lengths") + "/verbatim");

        assertThat(answer.status()).as(answer.body()).isEqualTo(200);
        JsonNode received = recorded("lengths-app", "/verbatim");
        assertThat(received.get("accept").asText()).as(received.toString()).isEqualTo(accept);
        assertThat(answer.header("cache-control")).as(answer.headers().toString()).isEqualTo("no-store,max-age=0");
    }

    @Test
    void anUploadThatExpects100ContinueGetsItFromTheSidecar() throws Exception {
        // curl waits for 100 Continue before sending the body; with a 30 s expect timeout and a 20 s limit, an
        // upload only completes if someone answers 100 (the sidecar dropped the far app's 100 as an interim answer).
        byte[] body = new byte[1000];
        java.util.Arrays.fill(body, (byte) 'e');
        Path upload = mesh.work().resolve("upload-expect.bin");
        Files.write(upload, body);

        Curl.Result posted = Curl.run("-m", "20", "--expect100-timeout", "30", "-H", "Expect: 100-continue",
                "--data-binary", "@" + upload, "http://127.0.0.1:" + web.upstreamPort("lengths") + "/upload-expect");

        assertThat(posted.exitCode()).as(posted.stderr()).isZero();
        // curl -i shows the interim answer first: 100, then the final 200.
        assertThat(posted.status()).isEqualTo(100);
        assertThat(posted.body()).contains("HTTP/1.1 200 ");
        assertThat(recorded("lengths-app", "/upload-expect").get("body_bytes").asInt()).isEqualTo(1000);
    }

    @Test
    void requestTrailersOfAChunkedHttp1RequestReachTheApp() throws Exception {
        // curl cannot send request trailers: the request is written as bytes.
        String chunked = "POST /trailers-http1 HTTP/1.1\r\nHost: lengths\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum\r\n"
                + "Connection: close\r\n\r\n5\r\nhello\r\n0\r\nx-checksum: abc123\r\n\r\n";
        String status;
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", web.upstreamPort("lengths"))) {
            socket.setSoTimeout(20_000);
            socket.getOutputStream().write(chunked.getBytes(StandardCharsets.US_ASCII));
            status = new java.io.BufferedReader(new java.io.InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII))
                    .readLine();
        }

        assertThat(status).isEqualTo("HTTP/1.1 200 OK");
        JsonNode received = recorded("lengths-app", "/trailers-http1");
        assertThat(received.get("body_bytes").asInt()).isEqualTo(5);
        assertThat(received.get("trailers").path("x-checksum").asText()).as(received.toString()).isEqualTo("abc123");
    }

    @Test
    void requestTrailersOfAnHttp2RequestReachTheApp() throws Exception {
        Path upload = mesh.work().resolve("upload-5.bin");
        Files.writeString(upload, "hello");
        // Without a Content-Length, as gRPC and other streaming clients send (see docs/compatibility.md for both).
        Process nghttp = new ProcessBuilder("nghttp", "-n", "--stat", "-d", upload.toString(), "--no-content-length",
                "--trailer", "x-checksum: abc123",
                "http://127.0.0.1:" + web.upstreamPort("lengths") + "/trailers-h2").redirectErrorStream(true).start();
        String out = new String(nghttp.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(nghttp.waitFor(30, TimeUnit.SECONDS)).isTrue();

        assertThat(nghttp.exitValue()).as(out).isZero();
        JsonNode received = recorded("lengths-app", "/trailers-h2");
        assertThat(received.get("body_bytes").asInt()).isEqualTo(5);
        assertThat(received.get("trailers").path("x-checksum").asText()).as(received.toString()).isEqualTo("abc123");
    }

    @Test
    void anHttp2RequestWithALengthAndTrailersReachesAnHttp2AppWithBoth() throws Exception {
        // Issue 11, item 6, its last case: nghttp -d FILE --trailer sends a content-length and trailers, which HTTP/2
        // allows; the length was kept and the trailers dropped at the first sidecar (the model held one framing).
        // python3-h2 as the app prints what arrived.
        Path upload = mesh.work().resolve("upload-framing.bin");
        Files.writeString(upload, "hello");
        Process nghttp = new ProcessBuilder("nghttp", "-n", "--stat", "-d", upload.toString(), "--trailer", "x-checksum: abc123",
                "http://127.0.0.1:" + web.upstreamPort("strict") + "/framing-h2").redirectErrorStream(true).start();
        String out = new String(nghttp.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(nghttp.waitFor(30, TimeUnit.SECONDS)).isTrue();

        assertThat(nghttp.exitValue()).as(out).isZero();
        MeshHarness.await(Duration.ofSeconds(10), "the app to print the request's framing",
                () -> log("strict-h2").contains("framing /framing-h2 "));
        assertThat(log("strict-h2")).contains("framing /framing-h2 length=5 bytes=5 trailers=x-checksum:abc123");
    }

    @Test
    void anHttp2ResponseWithALengthAndTrailersReachesAnHttp2CallerWithBoth() throws Exception {
        // The same framing the other way: python3-h2 answers with content-length: 3, its bytes, then a trailer.
        PeerCommand.Output out = PeerCommand.run(Duration.ofSeconds(30), "nghttp", "-nv",
                "http://127.0.0.1:" + web.upstreamPort("strict") + "/trailers-response");

        assertThat(out.exitCode()).as(out.text()).isZero();
        assertThat(out.text()).contains("content-length: 3").contains("x-checksum: abc123");
    }

    @Test
    void absoluteFormTargetsAndHostVariantsRouteToTheSameService() throws Exception {
        int proxy = web.outboundPort();
        List<String> requests = List.of(
                // What JDK HttpClient sends through a proxy for http://lengths:80/...: the default port spelled out.
                "GET http://lengths:80/abs-default-port HTTP/1.1\r\nHost: lengths:80\r\n",
                "GET http://lengths.default.svc.cluster.local/abs-fqdn HTTP/1.1\r\nHost: other\r\n",
                "GET /host-upper HTTP/1.1\r\nHost: LENGTHS\r\n",
                "GET /host-dot HTTP/1.1\r\nHost: lengths.default.svc.cluster.local.\r\n",
                "GET /host-port HTTP/1.1\r\nHost: lengths.default:8080\r\n",
                "GET /host-svc HTTP/1.1\r\nHost: lengths.default.svc\r\n");
        for (String request : requests) {
            String answer = exchange(proxy, request + "Connection: close\r\n\r\n");
            assertThat(answer).as(request).startsWith("HTTP/1.1 200 ");
        }

        for (String path : List.of("/abs-default-port", "/abs-fqdn", "/host-upper", "/host-dot", "/host-port", "/host-svc")) {
            assertThat(recorded("lengths-app", path).get("requestline").asText()).as("the app reads an origin-form target")
                    .startsWith("GET " + path + " ");
        }
        assertThat(recorded("lengths-app", "/abs-fqdn").get("host").asText())
                .as("a proxy takes the authority of an absolute-form target, not the Host sent with it")
                .isEqualTo("lengths.default.svc.cluster.local");
    }

    @Test
    void pipelinedHttp1RequestsAreAnsweredInOrder() throws Exception {
        String answer = exchange(web.upstreamPort("lengths"), "GET /pipelined-1 HTTP/1.1\r\nHost: lengths\r\nx-request-id: first\r\n\r\n"
                + "GET /pipelined-2 HTTP/1.1\r\nHost: lengths\r\nx-request-id: second\r\nConnection: close\r\n\r\n");

        assertThat(answer.split("HTTP/1.1 200 ", -1)).as(answer).hasSize(3);
        // Each answer echoes its request's x-request-id: the first answer is the first request's.
        assertThat(answer.indexOf("x-request-id: first")).as(answer).isPositive()
                .isLessThan(answer.indexOf("x-request-id: second"));
        assertThat(recorded("lengths-app", "/pipelined-1")).isNotNull();
        assertThat(recorded("lengths-app", "/pipelined-2")).isNotNull();
    }

    @Test
    void connectIsRefusedByTheErrorTable() throws Exception {
        String answer = exchange(web.outboundPort(), "CONNECT lengths:80 HTTP/1.1\r\nHost: lengths:80\r\nConnection: close\r\n\r\n");

        assertThat(answer).startsWith("HTTP/1.1 400 ").containsIgnoringCase("trellis-error: bad-request")
                .contains("CONNECT tunnels are not supported");
    }

    @Test
    void anAppCannotForgeTheUpgradeMarkBetweenTheSidecars() throws Exception {
        // The mark that carries an upgrade between sidecars is theirs alone: an app sending it over h2c must not make
        // the far sidecar send its app an HTTP/1.1 upgrade.
        Process nghttp = new ProcessBuilder("nghttp", "-n", "-H", "trellis-upgrade: websocket",
                "http://127.0.0.1:" + web.upstreamPort("lengths") + "/forged-upgrade").redirectErrorStream(true).start();
        String out = new String(nghttp.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(nghttp.waitFor(30, TimeUnit.SECONDS)).isTrue();

        assertThat(nghttp.exitValue()).as(out).isZero();
        JsonNode received = recorded("lengths-app", "/forged-upgrade");
        assertThat(received.get("upgrade").isNull()).as(received.toString()).isTrue();
    }

    @Test
    void aWebSocketClientAndServerTalkThroughTheMesh() throws Exception {
        JsonNode outcome = webSocket("/room/1", "hello", "world", "@size:1048576");

        assertThat(outcome.get("ok").asBoolean()).as(outcome.toString()).isTrue();
        assertThat(outcome.get("replies").get(0).asText()).isEqualTo("echo:hello");
        assertThat(outcome.get("replies").get(1).asText()).isEqualTo("echo:world");
        assertThat(outcome.get("replies").get(2).asText()).as("a 1 MiB message").isEqualTo("echo:...(1048581 chars)");
        MeshHarness.await(Duration.ofSeconds(10), "the server to log the connection's end",
                () -> log("ws-server").contains("\"path\": \"/room/1\""));
        JsonNode served = lastLine("ws-server", "/room/1");
        assertThat(served.get("messages").asInt()).isEqualTo(3);
        assertThat(served.get("close_code").asInt()).as("the client's close handshake reached the server").isEqualTo(1000);
    }

    @Test
    void aWebSocketUpgradeIsAuthorizedLikeAnyRequest() throws Exception {
        mesh.apply("""
                kind: AuthorizationPolicy
                metadata: {name: chat-no-admin, namespace: default}
                spec:
                  service: chat
                  action: DENY
                  rules:
                    - to: {paths: ["/admin/*"]}
                """);
        try {
            MeshHarness.await(Duration.ofSeconds(30), "chat to deny /admin/*",
                    () -> !webSocket("/admin/room", "probe").get("ok").asBoolean());

            JsonNode denied = webSocket("/admin/room", "secret");
            JsonNode allowed = webSocket("/room/2", "still-open");

            assertThat(denied.get("error").asText()).as(denied.toString()).contains("403");
            assertThat(log("ws-server")).doesNotContain("\"path\": \"/admin/room\"");
            assertThat(allowed.get("ok").asBoolean()).as(allowed.toString()).isTrue();
        } finally {
            mesh.delete("authorizationpolicies", "chat-no-admin");
        }
    }

    /** Runs the python3-websockets client against web's upstream port for chat; its one-line JSON outcome. */
    private JsonNode webSocket(String path, String... messages) {
        List<String> command = new ArrayList<>(List.of("/usr/bin/python3", WEBSOCKET_PEER.toString(), "client",
                "ws://127.0.0.1:" + web.upstreamPort("chat") + path));
        command.addAll(List.of(messages));
        try {
            PeerCommand.Output out = PeerCommand.run(Duration.ofSeconds(60), command.toArray(String[]::new));
            String[] lines = out.text().strip().split("\n");
            return MeshHarness.JSON.readTree(lines[lines.length - 1]);
        } catch (IOException e) {
            return MeshHarness.JSON.createObjectNode().put("ok", false).put("error", e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** The last JSON line {@code peer} logged that mentions {@code fragment}. */
    private JsonNode lastLine(String peer, String fragment) throws IOException {
        JsonNode found = null;
        for (String line : log(peer).split("\n")) {
            if (line.startsWith("{") && line.contains(fragment)) {
                found = MeshHarness.JSON.readTree(line);
            }
        }
        assertThat(found).as(peer + " logged " + fragment).isNotNull();
        return found;
    }

    private static String exchange(int port, String request) throws IOException {
        return RawHttp.exchange("127.0.0.1", port, request);
    }

    /** The app's last JSON report of a request to {@code path}. */
    @Test
    void aChunkedBodyThatBreaksItsFramingIsRefusedAndNeverReachesTheAppWhole() throws Exception {
        // Found by Http1FramingFuzzTest: Netty's decoder ends a body whose chunk framing breaks (here a chunk of 6
        // with 5 bytes and CRLF) with a failed last part, and the sidecar took that for the body's end: the app got a
        // complete request with the body "hello\r" and answered 200.
        String request = "POST /bad-chunk HTTP/1.1\r\nHost: lengths\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "6\r\nhello\r\n0\r\n\r\n";

        String answer = RawHttp.exchange("127.0.0.1", web.upstreamPort("lengths"), request);

        assertThat(answer).startsWith("HTTP/1.1 400 ").containsIgnoringCase("trellis-error: bad-request")
                .contains("malformed request body");
        Thread.sleep(500);
        assertThat(log("lengths-app")).as("the app never completes the request").doesNotContain("\"path\": \"/bad-chunk\"");
        assertThat(Curl.run("http://127.0.0.1:" + web.upstreamPort("lengths") + "/after-bad-chunk").status()).isEqualTo(200);
    }

    @Test
    void aRequestBodyThatStallsIsTheCallersRequestTimeoutAndCountsAgainstNoOne() throws Exception {
        // Issue 12, "body-idle timeout": a small body (buffered for retries) that stopped after 10 of its 100 bytes
        // was answered after 30 s with 502 upstream-reset, a fault held against the upstream. It is now the caller's
        // 408 request-timeout after the destination's streamIdle.
        withLengthsStreamIdleOf2s(() -> {
            double resetsBefore = web.metricSum("trellis_errors_total", "code=\"upstream-reset\"");

            String answer = stalledHttp1Body("/stalled-small", 100, 10);

            assertThat(answer).startsWith("HTTP/1.1 408 ").containsIgnoringCase("trellis-error: request-timeout");
            assertThat(web.metricSum("trellis_errors_total", "code=\"upstream-reset\"")).isEqualTo(resetsBefore);
            assertThat(log("lengths-app")).doesNotContain("\"path\": \"/stalled-small\"");
        });
    }

    @Test
    void aStreamedRequestBodyThatStallsIsAnsweredAndTheAppsRequestEnded() throws Exception {
        // Issue 12, "body-idle timeout": a body too large to buffer (1,000,000 bytes) that stopped after 100,000 was
        // cut after streamIdle, and the caller's connection closed with no answer at all: the sidecar took the
        // pipeline giving up on the body for the caller going away. It is now answered 408 request-timeout, the
        // app's request is ended (Python's http.server sees its body end short), and nothing counts against lengths.
        withLengthsStreamIdleOf2s(() -> {
            double resetsBefore = web.metricSum("trellis_errors_total", "code=\"upstream-reset\"");

            String answer = stalledHttp1Body("/stalled-large", 1_000_000, 100_000);

            assertThat(answer).startsWith("HTTP/1.1 408 ").containsIgnoringCase("trellis-error: request-timeout")
                    .containsIgnoringCase("connection: close");
            assertThat(web.metricSum("trellis_errors_total", "code=\"upstream-reset\"")).isEqualTo(resetsBefore);
            assertAppSawItsBodyEndShort("/stalled-large");
        });
    }

    @Test
    void aStalledBodyOnTheInboundListenerIsAnsweredOnItsStreamAndTheConnectionServesOn() throws Exception {
        // Issue 12, "body-idle timeout": the inbound listener had no body-idle bound, so a caller with a mesh
        // certificate held a stream and the app's request open by never finishing its body. The service's own
        // streamIdle now bounds it there too: the stalled stream gets 408 request-timeout, the app's request is
        // ended, and the connection's next stream is served. python3-h2 with web's certificate, straight to lengths.
        withLengthsStreamIdleOf2s(() -> {
            PeerCommand.Output out = PeerCommand.run(Duration.ofSeconds(60), "/usr/bin/python3",
                    MeshHarness.peers().resolve("h2_stalled_body.py").toString(), lengths.address(),
                    Integer.toString(lengths.inboundPort()), web.certificatesForPeerTools().toString(), "lengths",
                    "/stalled-inbound", "20");

            assertThat(out.text()).contains("{\"case\": \"stalled\", \"outcome\": \"status 408 request-timeout\"}")
                    .contains("{\"case\": \"after\", \"outcome\": \"status 200\"}");
            assertAppSawItsBodyEndShort("/stalled-inbound");
        });
    }

    /** A test's body, run inside a set-up. */
    @FunctionalInterface
    private interface Body {
        void run() throws Exception;
    }

    /**
     * Runs {@code test} while lengths' streamIdle is 2 s, once web and lengths both applied it, and waits for both to
     * drop it again after (a policy deleted and applied again within the control plane's debounce is no change at all).
     */
    private void withLengthsStreamIdleOf2s(Body test) throws Exception {
        awaitNewSnapshots(() -> mesh.apply("""
                kind: TrafficPolicy
                metadata: {name: lengths-idle, namespace: default}
                spec: {service: lengths, timeouts: {streamIdle: 2s}}
                """));
        try {
            test.run();
        } finally {
            awaitNewSnapshots(() -> mesh.delete("trafficpolicies", "lengths-idle"));
        }
    }

    /** Runs {@code change} and waits until web and lengths both applied a snapshot newer than before it. */
    private void awaitNewSnapshots(Body change) throws Exception {
        double webVersion = web.metric("trellis_config_version");
        double lengthsVersion = lengths.metric("trellis_config_version");
        change.run();
        MeshHarness.await(Duration.ofSeconds(20), "web and lengths to apply the change", () -> {
            try {
                return web.metric("trellis_config_version") > webVersion
                        && lengths.metric("trellis_config_version") > lengthsVersion;
            } catch (IOException notYet) {
                return false;
            }
        });
    }

    /** POSTs {@code path} to lengths through web, declaring {@code declared} bytes and sending {@code sent}; the answer. */
    private String stalledHttp1Body(String path, int declared, int sent) throws IOException {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", web.upstreamPort("lengths"))) {
            socket.setSoTimeout(20_000);
            socket.getOutputStream().write(("POST " + path + " HTTP/1.1\r\nHost: lengths\r\nContent-Length: " + declared
                    + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().write(new byte[sent]);
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    /** The app's read of {@code path}'s body ended (it was not left waiting), short of the 1,000,000 bytes declared. */
    private void assertAppSawItsBodyEndShort(String path) throws Exception {
        MeshHarness.await(Duration.ofSeconds(10), "lengths-app to see the body of " + path + " end",
                () -> log("lengths-app").contains("\"path\": \"" + path + "\""));
        assertThat(recorded("lengths-app", path).get("body_bytes").asInt()).isLessThan(1_000_000);
    }

    private JsonNode recorded(String app, String path) throws IOException {
        JsonNode found = null;
        for (String line : log(app).split("\n")) {
            if (line.startsWith("{\"requestline\"")) {
                JsonNode report = MeshHarness.JSON.readTree(line);
                if (path.equals(report.path("path").asText())) {
                    found = report;
                }
            }
        }
        assertThat(found).as(app + " received " + path).isNotNull();
        return found;
    }

    /** Starts Python's http.server app ({@code e2e/peers/recording_http_app.py}) logging to {@code name}; its port. */
    private int recordingApp(String name) throws Exception {
        int port = MeshHarness.freePort();
        mesh.launchPeer(name, List.of("/usr/bin/python3", MeshHarness.peers().resolve("recording_http_app.py").toString(),
                Integer.toString(port)));
        MeshHarness.await(Duration.ofSeconds(20), name + " to listen", () -> log(name).contains("ready"));
        return port;
    }

    /** Runs the grpc-js client against web's upstream port for {@code service}; its one-line JSON outcome. */
    private JsonNode grpc(String service, String... args) {
        List<String> command = new ArrayList<>(List.of("node", GRPC.resolve("client.js").toString(),
                "127.0.0.1:" + web.upstreamPort(service)));
        command.addAll(List.of(args));
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("the grpc-js client did not finish: " + command);
            }
            String[] lines = out.strip().split("\n");
            try {
                return MeshHarness.JSON.readTree(lines[lines.length - 1]);
            } catch (IOException notJson) {
                // The client crashed (its stack trace is the output): report it as a failed call.
                return MeshHarness.JSON.createObjectNode().put("code", -1).put("details", out);
            }
        } catch (IOException e) {
            throw new AssertionError("the grpc-js client failed: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Waits (at most 10 s) for the grpc-js server to report the end of {@code call} with {@code message}; its report. */
    private JsonNode awaitCall(String call, String message) throws IOException, InterruptedException {
        MeshHarness.await(Duration.ofSeconds(10), "the grpc-js server to end the call", () -> {
            try {
                return lastCall(call, message) != null;
            } catch (AssertionError | IOException notYet) {
                return false;
            }
        });
        return lastCall(call, message);
    }

    /** The grpc-js server's report of the last finished call {@code call} with {@code message}. */
    private JsonNode lastCall(String call, String message) throws IOException {
        JsonNode found = null;
        for (String line : log("grpc-js-server").split("\n")) {
            if (line.startsWith("{\"call\"")) {
                JsonNode report = MeshHarness.JSON.readTree(line);
                if (report.get("call").asText().equals(call) && report.get("message").asText().equals(message)) {
                    found = report;
                }
            }
        }
        assertThat(found).as("the grpc-js server served " + call + " " + message).isNotNull();
        return found;
    }

    private String log(String name) {
        try {
            return Files.readString(mesh.work().resolve(name + ".log"));
        } catch (IOException e) {
            return "";
        }
    }

    private static double metric(SidecarProcess sidecar, String series) {
        try {
            return sidecar.metric(series);
        } catch (IOException e) {
            return -1;
        }
    }

    private static boolean python3Has(String module) throws InterruptedException {
        try {
            return new ProcessBuilder("/usr/bin/python3", "-c", "import " + module).start().waitFor() == 0;
        } catch (IOException e) {
            return false;
        }
    }
}
