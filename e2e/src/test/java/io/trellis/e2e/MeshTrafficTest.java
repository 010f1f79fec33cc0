package io.trellis.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.trellis.e2e.app.TestBackend;
import io.trellis.e2e.echo.EchoClient;
import io.trellis.e2e.echo.Message;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * app -> sidecar -> mTLS HTTP/2 -> sidecar -> app with real processes: HTTP/1.1, h2c, HTTP proxy mode, a
 * declared upstream port, gRPC in all four call shapes, the sidecar's own errors, and its metrics.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MeshTrafficTest {
    private static final String WEB = "spiffe://cluster.local/ns/default/sa/web";

    private final ActorSystem<Void> system = MeshHarness.appSystem("traffic-test");
    private MeshHarness mesh;
    private TestBackend backend;
    private SidecarProcess echo;
    private SidecarProcess web;
    private EchoClient grpc;

    @BeforeAll
    void startMesh() throws Exception {
        mesh = MeshHarness.start();
        backend = TestBackend.start(system, 0);
        echo = mesh.startSidecar("echo", backend.port(), "--label", "version=v1");
        web = mesh.startSidecar("web", MeshHarness.freePort(), "--upstream", "echo");
        MeshHarness.awaitCurl(Duration.ofSeconds(30), "web to learn about echo", status -> status == 200,
                "-H", "Host: echo", "http://127.0.0.1:" + web.outboundPort() + "/echo");
        grpc = EchoClient.create(GrpcClientSettings.connectToServiceAt("127.0.0.1", web.upstreamPort("echo"), system)
                .withTls(false).withBackend("pekko-http"), system);
    }

    @AfterAll
    void stopMesh() throws Exception {
        if (grpc != null) {
            grpc.close();
        }
        if (mesh != null) {
            mesh.close();
        }
        system.terminate();
    }

    @Test
    void aReadyFileNamesThePortsOnceTheSidecarIsReadyAndIsRemovedWhenItStops() throws Exception {
        Path ready = mesh.work().resolve("solo.ready");
        Files.writeString(ready, "stale: from a run that crashed\n");
        SidecarProcess solo = mesh.launchSidecarUnready("solo", backend.port(), "--ready-file", ready.toString());
        try {
            MeshHarness.await(Duration.ofSeconds(60), "the ready file", () -> contents(ready).contains("api="));

            assertThat(solo.admin("/healthz/ready").statusCode()).isEqualTo(200);
            assertThat(Files.readString(ready)).isEqualTo("inbound=" + solo.address() + ":" + solo.inboundPort()
                    + "\noutbound=127.0.0.1:" + solo.outboundPort() + "\ntunnel=" + solo.address() + ":" + solo.tunnelPort()
                    + "\nadmin=127.0.0.1:" + solo.adminPort() + "\napi=127.0.0.1:" + solo.apiPort() + "\n");
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(ready))).isEqualTo("rw-------");
            assertThat(solo.log().lines().filter(line -> line.contains("ready in")).count()).isEqualTo(1);
        } finally {
            solo.stop();
        }
        assertThat(ready).doesNotExist();
    }

    @Test
    void aSidecarWhosePortIsTakenSaysWhichFlagInOneLineAndExits() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            SidecarProcess clash = mesh.launchSidecarUnready("clash", backend.port(), "--outbound-port",
                    Integer.toString(taken.getLocalPort()));

            assertThat(clash.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(clash.process().exitValue()).isEqualTo(1);
            assertThat(clash.log()).contains("trellis sidecar: cannot bind the outbound listeners on 127.0.0.1 (--outbound-port "
                    + taken.getLocalPort()).contains("Address already in use");
            assertThat(clash.log().lines().filter(line -> line.startsWith("\tat ") || line.contains("Exception:"))).isEmpty();
        }
    }

    @Test
    void theLauncherRecordsAStartupCacheOnTheFirstRunAndTheNextRunMapsIt() throws Exception {
        // -Xshare:on makes a cache that cannot be mapped fatal, so a second run that becomes ready mapped it.
        Path cache = mesh.work().resolve("startup-cache");
        Map<String, String> env = Map.of("TRELLIS_CACHE_DIR", cache.toString(),
                "TRELLIS_JAVA_OPTS", String.join(" ", MeshHarness.sidecarJvmOptions()) + " -Xshare:on");
        SidecarProcess recording = mesh.plannedSidecar("cached", backend.port());
        recording.startThroughLauncher(env);
        recording.stop();
        List<Path> recorded;
        try (var files = Files.list(cache)) {
            recorded = files.filter(file -> file.getFileName().toString().matches("sidecar-.+\\.(jsa|aot)")).toList();
        }
        assertThat(recorded).hasSize(1);
        assertThat(Files.size(recorded.get(0))).isGreaterThan(1_000_000);
        var recordedAt = Files.getLastModifiedTime(recorded.get(0));

        SidecarProcess mapping = mesh.plannedSidecar("cached", backend.port());
        mapping.startThroughLauncher(env);
        mapping.stop();

        assertThat(Files.getLastModifiedTime(recorded.get(0))).isEqualTo(recordedAt);
        assertThat(mapping.log()).contains("ready in").doesNotContain("shared archive");
    }

    private static String contents(Path file) {
        try {
            return Files.readString(file);
        } catch (java.nio.file.NoSuchFileException absent) {
            return "";
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void http11RequestReachesTheAppWithTheVerifiedCallerIdentity() throws Exception {
        Curl.Result result = Curl.run("--http1.1", "-H", "Host: echo", "-H", "trellis-peer-identity: spiffe://cluster.local/ns/default/sa/admin",
                "-H", "x-forwarded-client-cert: By=forged", "http://127.0.0.1:" + web.outboundPort() + "/echo?x=1");

        assertThat(result.status()).as(result.body()).isEqualTo(200);
        JsonNode seen = MeshHarness.JSON.readTree(result.body());
        assertThat(seen.get("path").asText()).isEqualTo("/echo");
        assertThat(seen.get("headers").get("trellis-peer-identity").asText()).isEqualTo(WEB);
        assertThat(seen.get("headers").has("x-forwarded-client-cert")).isFalse();
        assertThat(seen.get("headers").get("host").asText()).isEqualTo("echo");
    }

    @Test
    void requestIdAndTraceparentAreCreatedWhenMissingAndPropagatedWhenPresent() throws Exception {
        Curl.Result created = Curl.run("-H", "Host: echo", "http://127.0.0.1:" + web.outboundPort() + "/echo");
        JsonNode seen = MeshHarness.JSON.readTree(created.body()).get("headers");
        assertThat(seen.get("x-request-id").asText()).isNotBlank().isEqualTo(created.header("x-request-id"));
        assertThat(seen.get("traceparent").asText()).matches("00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]");

        String traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        Curl.Result kept = Curl.run("-H", "Host: echo", "-H", "x-request-id: req-42", "-H", "traceparent: " + traceparent,
                "http://127.0.0.1:" + web.outboundPort() + "/echo");
        JsonNode keptHeaders = MeshHarness.JSON.readTree(kept.body()).get("headers");
        assertThat(keptHeaders.get("x-request-id").asText()).isEqualTo("req-42");
        assertThat(keptHeaders.get("traceparent").asText()).isEqualTo(traceparent);
        assertThat(kept.header("x-request-id")).isEqualTo("req-42");
    }

    @Test
    void h2cWithPriorKnowledgeFromTheAppWorks() throws Exception {
        Curl.Result result = Curl.run("--http2-prior-knowledge", "-H", "Host: echo.default",
                "http://127.0.0.1:" + web.outboundPort() + "/echo");

        assertThat(result.status()).as(result.body()).isEqualTo(200);
        assertThat(MeshHarness.JSON.readTree(result.body()).get("headers").get("trellis-peer-identity").asText()).isEqualTo(WEB);
    }

    @Test
    void httpProxyModeWorksForCurlAndJvmClients() throws Exception {
        Curl.Result viaCurl = Curl.run("-x", "http://127.0.0.1:" + web.outboundPort(),
                "http://echo.default.svc.cluster.local:8080/echo");
        assertThat(viaCurl.status()).as(viaCurl.body()).isEqualTo(200);

        HttpClient jvm = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", web.outboundPort()))).build();
        HttpResponse<String> viaJvm = jvm.send(HttpRequest.newBuilder(URI.create("http://echo/echo"))
                .POST(HttpRequest.BodyPublishers.ofString("hello")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(viaJvm.statusCode()).as(viaJvm.body()).isEqualTo(200);
        JsonNode seen = MeshHarness.JSON.readTree(viaJvm.body());
        assertThat(seen.get("method").asText()).isEqualTo("POST");
        assertThat(seen.get("bodyBytes").asInt()).isEqualTo(5);
        assertThat(seen.get("path").asText()).isEqualTo("/echo");
    }

    @Test
    void proxyingDoesNotStartAThreadPerRequest() throws Exception {
        // Pekko's Java futures run callbacks on the JDK common pool, which starts a thread per task on 2 cores.
        HttpClient jvm = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", web.outboundPort()))).build();
        double clientBefore = web.metric("jvm_threads_started_threads_total");
        double serverBefore = echo.metric("jvm_threads_started_threads_total");
        int requests = 200;
        for (int i = 0; i < requests; i++) {
            // A streamed body of unknown length (chunked), so the body-watching path runs too.
            HttpRequest.BodyPublisher body = i % 2 == 0 ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(new byte[100]));
            HttpResponse<String> response = jvm.send(HttpRequest.newBuilder(URI.create("http://echo/echo"))
                    .method(i % 2 == 0 ? "GET" : "POST", body).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        }

        assertThat(clientBefore).isNotNegative();
        assertThat(web.metric("jvm_threads_started_threads_total") - clientBefore).isLessThan(requests / 10.0);
        assertThat(echo.metric("jvm_threads_started_threads_total") - serverBefore).isLessThan(requests / 10.0);
    }

    @Test
    void grpcDeadlineIsPropagatedToTheAppMinusTimeSpent() throws Exception {
        Message seen = grpc.unary().addHeader("grpc-timeout", "3S")
                .invoke(Message.newBuilder().setText("header:grpc-timeout").build())
                .toCompletableFuture().get(10, TimeUnit.SECONDS);

        // The caller's 3 s, less what the hops took, restated by the client sidecar for the app.
        assertThat(seen.getText()).matches("\\d+m");
        long millis = Long.parseLong(seen.getText().replace("m", ""));
        assertThat(millis).isPositive().isLessThanOrEqualTo(3000);
    }

    @Test
    void declaredUpstreamPortNeedsNoHostHeader() throws Exception {
        Curl.Result result = Curl.run("http://127.0.0.1:" + web.upstreamPort("echo") + "/echo");

        assertThat(result.status()).as(result.body()).isEqualTo(200);
        assertThat(MeshHarness.JSON.readTree(result.body()).get("headers").get("trellis-peer-identity").asText()).isEqualTo(WEB);
    }

    @Test
    void grpcUnaryCallsPassWithStatusAndPeerIdentity() throws Exception {
        Message reply = grpc.unary(Message.newBuilder().setText("hi").build()).toCompletableFuture().get(20, TimeUnit.SECONDS);
        assertThat(reply.getText()).isEqualTo("echo:hi");
        assertThat(reply.getPeer()).isEqualTo(WEB);

        assertThatThrownBy(() -> grpc.unary(Message.newBuilder().setText("fail:7").build()).toCompletableFuture()
                .get(20, TimeUnit.SECONDS))
                .hasCauseInstanceOf(StatusRuntimeException.class)
                .satisfies(e -> {
                    Status status = ((StatusRuntimeException) e.getCause()).getStatus();
                    assertThat(status.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                    assertThat(status.getDescription()).isEqualTo("asked to fail");
                });
    }

    @Test
    void grpcStreamingCallsPassInAllThreeShapes() throws Exception {
        List<Message> served = grpc.serverStream(Message.newBuilder().setText("s").setCount(50).build())
                .runWith(Sink.seq(), system).toCompletableFuture().get(20, TimeUnit.SECONDS);
        assertThat(served).hasSize(50);
        assertThat(served.get(49).getText()).isEqualTo("s#50");

        Message joined = grpc.clientStream(Source.range(1, 20).map(i -> Message.newBuilder().setText(i + ",").build()))
                .toCompletableFuture().get(20, TimeUnit.SECONDS);
        assertThat(joined.getText()).startsWith("1,2,3,").endsWith("20,");
        assertThat(joined.getPeer()).isEqualTo(WEB);

        List<Message> answered = grpc.bidi(Source.range(1, 30).map(i -> Message.newBuilder().setText("m" + i).build()))
                .runWith(Sink.seq(), system).toCompletableFuture().get(20, TimeUnit.SECONDS);
        assertThat(answered).extracting(Message::getText).hasSize(30).startsWith("re:m1").endsWith("re:m30");
    }

    @Test
    void grpcStreamFailureStatusArrivesInTrailers() {
        assertThatThrownBy(() -> grpc.bidi(Source.single(Message.newBuilder().setText("fail:8").build()))
                .runWith(Sink.seq(), system).toCompletableFuture().get(20, TimeUnit.SECONDS))
                .hasCauseInstanceOf(StatusRuntimeException.class)
                .satisfies(e -> assertThat(((StatusRuntimeException) e.getCause()).getStatus().getCode())
                        .isEqualTo(Status.Code.RESOURCE_EXHAUSTED));
    }

    @Test
    void unknownServiceGetsNoRouteAsHttpAndAsGrpcStatus() throws Exception {
        Curl.Result http = Curl.run("-H", "Host: nosuch", "http://127.0.0.1:" + web.outboundPort() + "/x");
        assertThat(http.status()).isEqualTo(404);
        assertThat(http.header("trellis-error")).isEqualTo("no-route");
        JsonNode body = MeshHarness.JSON.readTree(http.body());
        assertThat(body.get("error").asText()).isEqualTo("no-route");
        assertThat(body.get("message").asText()).contains("nosuch");
        assertThat(body.get("requestId").asText()).isEqualTo(http.header("x-request-id"));

        EchoClient lost = EchoClient.create(GrpcClientSettings.connectToServiceAt("127.0.0.1", web.outboundPort(), system)
                .withTls(false).withBackend("pekko-http").withOverrideAuthority("nosuch"), system);
        try {
            assertThatThrownBy(() -> lost.unary(Message.newBuilder().setText("x").build()).toCompletableFuture()
                    .get(20, TimeUnit.SECONDS))
                    .hasCauseInstanceOf(StatusRuntimeException.class)
                    .satisfies(e -> {
                        Status status = ((StatusRuntimeException) e.getCause()).getStatus();
                        assertThat(status.getCode()).isEqualTo(Status.Code.NOT_FOUND);
                        assertThat(status.getDescription()).startsWith("no-route:");
                    });
        } finally {
            lost.close();
        }
    }

    @Test
    void appThatIsDownGivesUpstreamConnectFailure() throws Exception {
        SidecarProcess orphan = mesh.startSidecar("orphan", MeshHarness.freePort());
        MeshHarness.awaitCurl(Duration.ofSeconds(20), "web to learn about orphan", status -> status != 404 && status != 0,
                "-H", "Host: orphan", "http://127.0.0.1:" + web.outboundPort() + "/");

        Curl.Result result = Curl.run("-H", "Host: orphan", "http://127.0.0.1:" + web.outboundPort() + "/");

        assertThat(result.status()).isEqualTo(503);
        assertThat(result.header("trellis-error")).isEqualTo("upstream-connect-failure");
        orphan.stop();
    }

    @Test
    void metricsCountRequestsByServiceAndStatusClass() throws Exception {
        Curl.run("-H", "Host: echo", "http://127.0.0.1:" + web.outboundPort() + "/echo");

        assertThat(web.metric("trellis_requests_total{direction=\"outbound\",service=\"echo\",status_class=\"2xx\"}")).isPositive();
        assertThat(echo.metric("trellis_requests_total{direction=\"inbound\",service=\"echo\",status_class=\"2xx\"}")).isPositive();
        String metrics = web.admin("/metrics").body();
        assertThat(metrics).contains("trellis_request_duration_seconds_bucket{direction=\"outbound\",service=\"echo\",le=");
        assertThat(web.metric("trellis_certificate_expiry_seconds")).isGreaterThan(System.currentTimeMillis() / 1000.0);
        assertThat(web.metric("trellis_config_version")).isPositive();
        assertThat(web.metric("trellis_config_nacks_total")).isZero();
        assertThat(metrics).contains("jvm_memory_used_bytes{area=\"heap\"");
    }

    @Test
    void theAdminListenerIsReadOnlyAndAnswersCurlOverHttp1AndH2c() throws Exception {
        String admin = "http://127.0.0.1:" + web.adminPort();

        Curl.Result live = Curl.run(admin + "/healthz/live");
        Curl.Result ready = Curl.run("--http2-prior-knowledge", admin + "/healthz/ready");
        Curl.Result head = Curl.run("-I", admin + "/metrics");
        Curl.Result post = Curl.run("-X", "POST", "--data", "x", admin + "/healthz/live");
        Curl.Result unknown = Curl.run(admin + "/nothing-here");
        Curl.Result noProbe = Curl.run(admin + "/app-health/web/livez");
        Curl.Result hugeHeader = Curl.run("-H", "X-Big: " + "a".repeat(16 * 1024), admin + "/healthz/live");

        assertThat(live.status()).isEqualTo(200);
        assertThat(live.body()).isEqualTo("live\n");
        assertThat(ready.status()).isEqualTo(200);
        assertThat(ready.body()).isEqualTo("ready\n");
        assertThat(head.status()).isEqualTo(200);
        assertThat(head.header("content-type")).startsWith("text/plain; version=0.0.4");
        assertThat(Long.parseLong(head.header("content-length"))).isPositive();
        assertThat(head.body()).isEmpty();
        assertThat(post.status()).isEqualTo(405);
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(noProbe.status()).isEqualTo(404);
        assertThat(noProbe.body()).isEqualTo("no probe /app-health/web/livez\n");
        assertThat(hugeHeader.status()).isEqualTo(431);
        assertThat(web.metric("trellis_limit_hits_total{direction=\"admin\",limit=\"headers-too-large\"}")).isPositive();
    }

    @Test
    void theLocalApiAnswersCurlWithTheIdentityAndNamesWhatItServes() throws Exception {
        String api = "http://127.0.0.1:" + web.apiPort();

        Curl.Result identity = Curl.run(api + "/v1/identity");
        Curl.Result unknown = Curl.run("-X", "POST", "--data", "x", api + "/v1/nothing");

        assertThat(identity.status()).isEqualTo(200);
        assertThat(identity.header("content-type")).isEqualTo("application/json");
        JsonNode body = MeshHarness.JSON.readTree(identity.body());
        assertThat(body.get("spiffeId").asText()).isEqualTo(WEB);
        assertThat(body.get("ready").asBoolean()).isTrue();
        assertThat(body.get("serial").asText()).isNotBlank();
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.body()).contains("POST /v1/publish/{topic}");
    }
}
