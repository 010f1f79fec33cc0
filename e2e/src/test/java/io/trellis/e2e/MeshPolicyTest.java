package io.trellis.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.e2e.app.TestBackend;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * TrafficPolicy and Route enforced on live traffic with misbehaving backends: retry budget and safe retries,
 * breaker and fallback, deadlines and per-try timeouts, outlier ejection of a resetting endpoint, weighted and
 * header-based subset routing, fault injection, the inbound rate limit, and policy changes under load. One
 * control plane and five sidecars for the class; each test applies its policies and removes them afterwards.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MeshPolicyTest {
    private final ActorSystem<Void> system = MeshHarness.appSystem("policy-test");
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private MeshHarness mesh;
    private TestBackend v1;
    private TestBackend v2;
    private TestBackend shakyGood;
    private MisbehavingApp shakyBad;
    private MisbehavingApp hung;
    private SidecarProcess web;
    private final List<SidecarProcess> sidecars = new ArrayList<>();

    @BeforeAll
    void startMesh() throws Exception {
        mesh = MeshHarness.start();
        v1 = TestBackend.start(system, 0, "v1");
        v2 = TestBackend.start(system, 0, "v2");
        shakyGood = TestBackend.start(system, 0, "good");
        shakyBad = MisbehavingApp.start(MisbehavingApp.Mode.RESET);
        hung = MisbehavingApp.start(MisbehavingApp.Mode.HANG);
        sidecars.add(mesh.startSidecar("echo", v1.port(), "--label", "version=v1"));
        sidecars.add(mesh.startSidecar("echo", v2.port(), "--label", "version=v2"));
        sidecars.add(mesh.startSidecar("shaky", shakyGood.port()));
        sidecars.add(mesh.startSidecar("shaky", shakyBad.port()));
        sidecars.add(mesh.startSidecar("hung", hung.port()));
        web = mesh.startSidecar("web", MeshHarness.freePort(), "--upstream", "echo", "--upstream", "shaky",
                "--upstream", "hung");
        sidecars.add(web);
        MeshHarness.await(Duration.ofSeconds(30), "web to see both echo endpoints", () -> {
            List<String> seen = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                seen.add(backendOf(get(echo("/echo"))));
            }
            return seen.contains("v1") && seen.contains("v2");
        });
    }

    @AfterAll
    void stopMesh() throws Exception {
        if (mesh != null) {
            mesh.close();
        }
        shakyBad.close();
        hung.close();
        system.terminate();
    }

    @AfterEach
    void removePolicies() throws Exception {
        double before = web.metric("trellis_config_version");
        mesh.delete("trafficpolicies", "echo");
        mesh.delete("trafficpolicies", "shaky");
        mesh.delete("trafficpolicies", "hung");
        mesh.delete("routes", "echo");
        awaitNewConfig(before);
    }

    @Test
    void weightedSplitAndHeaderRoutingReachTheirSubsets() throws Exception {
        applyAndAwait("""
                kind: Route
                metadata: {name: echo, namespace: default}
                spec:
                  service: echo
                  rules:
                    - match: {headers: {x-api-version: {exact: v2}}}
                      backends: [{subset: {version: v2}, weight: 100}]
                    - match: {path: {prefix: /}}
                      backends: [{subset: {version: v1}, weight: 90}, {subset: {version: v2}, weight: 10}]
                """);

        int total = 2000;
        int toV2 = 0;
        for (int i = 0; i < total; i++) {
            if (backendOf(get(echo("/echo"))).equals("v2")) {
                toV2++;
            }
        }
        assertThat(toV2 / (double) total).as("share of v2 in a 90/10 split").isBetween(0.07, 0.13);

        for (int i = 0; i < 100; i++) {
            HttpResponse<String> response = send(HttpRequest.newBuilder(echo("/echo")).header("x-api-version", "v2"));
            assertThat(backendOf(response)).isEqualTo("v2");
        }
    }

    @Test
    void retriesStayWithinTheBudgetAndSkipNonIdempotentRequests() throws Exception {
        applyAndAwait(trafficPolicy("echo",
                "retries: {attempts: 2, retryOn: [\"503\"], budget: {ratio: 0.2, minPerSecond: 1}}",
                "circuitBreaker: {failureRatio: 1.0, minRequests: 100000}"));
        long before = flakyRequests("GET");
        long started = System.nanoTime();
        int offered = 500;
        int budgetSkips = 0;
        for (int i = 0; i < offered; i++) {
            HttpResponse<String> response = get(echo("/flaky"));
            if (response.headers().firstValue("trellis-retry").orElse("").contains("skipped=budget")) {
                budgetSkips++;
            }
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        long received = flakyRequests("GET") - before;

        // The upstream fails half its requests: without a budget it would see ~1.75x the offered load.
        assertThat(received).as("upstream requests for %d offered over %.1f s", offered, seconds)
                .isGreaterThan(offered)
                .isLessThanOrEqualTo((long) (offered * 1.2 + 1 * (seconds + 10)));
        assertThat(budgetSkips).isPositive();
        assertThat(web.metric("trellis_retries_skipped_total{reason=\"budget\",service=\"echo\"}")).isPositive();

        long postsBefore = flakyRequests("POST");
        int skippedNonIdempotent = 0;
        for (int i = 0; i < 20; i++) {
            HttpResponse<String> response = send(HttpRequest.newBuilder(echo("/flaky"))
                    .POST(HttpRequest.BodyPublishers.ofString("order")));
            if (response.statusCode() == 503) {
                assertThat(response.headers().firstValue("trellis-retry")).contains("attempts=1; skipped=non-idempotent");
                skippedNonIdempotent++;
            }
        }
        assertThat(flakyRequests("POST") - postsBefore).as("POSTs are never sent twice").isEqualTo(20);
        assertThat(skippedNonIdempotent).isPositive();

        applyAndAwait(trafficPolicy("echo",
                "retries: {attempts: 2, retryOn: [\"503\"], retryNonIdempotent: true}",
                "circuitBreaker: {failureRatio: 1.0, minRequests: 100000}"));
        postsBefore = flakyRequests("POST");
        for (int i = 0; i < 20; i++) {
            send(HttpRequest.newBuilder(echo("/flaky")).POST(HttpRequest.BodyPublishers.ofString("order")));
        }
        assertThat(flakyRequests("POST") - postsBefore).as("declared retryNonIdempotent").isGreaterThan(20);
    }

    @Test
    void breakerOpensFailsFastAndTheRouteFallbackAnswers() throws Exception {
        applyAndAwait(trafficPolicy("echo",
                "retries: {attempts: 0}",
                "circuitBreaker: {failureRatio: 0.5, minRequests: 10, window: 30s, openFor: 60s, halfOpenProbes: 1}"));
        long before = statusRequests();
        List<String> errors = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            HttpResponse<String> response = get(echo("/status?code=503"));
            errors.add(response.headers().firstValue("trellis-error").orElse("upstream"));
        }
        assertThat(statusRequests() - before).as("requests that reached the apps").isLessThan(40);
        assertThat(errors.get(errors.size() - 1)).isEqualTo("circuit-open");

        applyAndAwait("""
                kind: Route
                metadata: {name: echo, namespace: default}
                spec:
                  service: echo
                  rules:
                    - match: {path: {prefix: /}}
                      fallback: {status: 200, contentType: application/json, body: '{"items":[]}'}
                """);
        // A new Route keeps the cluster's policy, so the breaker is still open.
        HttpResponse<String> fallback = get(echo("/status?code=503"));
        assertThat(fallback.statusCode()).isEqualTo(200);
        assertThat(fallback.headers().firstValue("trellis-fallback")).contains("true");
        assertThat(fallback.body()).isEqualTo("{\"items\":[]}");
    }

    @Test
    void deadlineAndPerTryTimeoutHoldAgainstAHungUpstream() throws Exception {
        applyAndAwait(trafficPolicy("echo", "timeouts: {request: 1s}"));
        HttpResponse<String> deadline = get(echo("/slow?ms=4000"));
        assertThat(deadline.statusCode()).isEqualTo(504);
        assertThat(deadline.headers().firstValue("trellis-error")).contains("upstream-timeout");

        applyAndAwait(trafficPolicy("echo",
                "timeouts: {request: 10s}",
                "retries: {attempts: 2, perTryTimeout: 300ms, retryOn: [\"503\"]}"));
        long before = slowRequests();
        HttpResponse<String> perTry = get(echo("/slow?ms=3000"));
        assertThat(perTry.statusCode()).isEqualTo(504);
        assertThat(perTry.headers().firstValue("trellis-retry")).contains("attempts=3");
        assertThat(slowRequests() - before).as("one request per attempt").isEqualTo(3);
    }

    @Test
    void aPassedDeadlineAbandonsTheRequestAtTheApp() throws Exception {
        applyAndAwait(trafficPolicy("hung",
                "timeouts: {request: 1s}",
                "retries: {attempts: 0}"));
        long before = hung.hungUp();

        HttpResponse<String> response = get(URI.create("http://127.0.0.1:" + web.upstreamPort("hung") + "/work"));

        assertThat(response.statusCode()).isEqualTo(504);
        assertThat(response.headers().firstValue("trellis-error")).contains("upstream-timeout");
        // The server sidecar got the caller's deadline and closed its connection to the app when it passed.
        MeshHarness.await(Duration.ofSeconds(10), "the app to see its caller hang up", () -> hung.hungUp() > before);
    }

    @Test
    void resettingEndpointIsEjectedAndReturnsAfterTheEjectionTime() throws Exception {
        applyAndAwait(trafficPolicy("shaky",
                "outlierDetection: {consecutiveErrors: 3, interval: 1s, baseEjectionTime: 3s, maxEjectionPercent: 50}"));
        String ejected = "trellis_outlier_ejected{service=\"shaky\"}";
        for (int i = 0; i < 40 && web.metric(ejected) < 1; i++) {
            // Retries move each failed attempt to the healthy endpoint, so the app sees no failure.
            assertThat(get(shaky("/echo")).statusCode()).isEqualTo(200);
        }
        assertThat(web.metric(ejected)).isEqualTo(1);
        long resetsWhileEjected = shakyBad.resets();
        for (int i = 0; i < 30; i++) {
            assertThat(get(shaky("/echo")).statusCode()).isEqualTo(200);
        }
        assertThat(shakyBad.resets()).as("no request reaches the ejected endpoint").isEqualTo(resetsWhileEjected);

        shakyBad.mode(MisbehavingApp.Mode.OK);
        MeshHarness.await(Duration.ofSeconds(20), "the ejection to end", () -> metric(web, ejected) == 0);
        MeshHarness.await(Duration.ofSeconds(20), "traffic to reach the returned endpoint", () -> {
            get(shaky("/echo"));
            return shakyBad.served() > 0;
        });
    }

    @Test
    void faultInjectionAbortsWithoutCallingTheService() throws Exception {
        applyAndAwait("""
                kind: Route
                metadata: {name: echo, namespace: default}
                spec:
                  service: echo
                  rules:
                    - match: {path: {prefix: /chaos}}
                      fault: {abort: {percent: 100, status: 500}}
                    - match: {path: {prefix: /}}
                """);
        for (int i = 0; i < 10; i++) {
            HttpResponse<String> response = get(echo("/chaos"));
            assertThat(response.statusCode()).isEqualTo(500);
            assertThat(response.headers().firstValue("trellis-fault")).contains("abort");
        }
        assertThat(v1.requests("GET", "/chaos") + v2.requests("GET", "/chaos")).isZero();
        assertThat(get(echo("/echo")).statusCode()).isEqualTo(200);
    }

    @Test
    void rateLimitAdmitsTheConfiguredRate() throws Exception {
        applyAndAwait(trafficPolicy("echo",
                "retries: {attempts: 0}",
                "rateLimit: {requestsPerSecond: 20, burst: 5}"), sidecars.get(0), sidecars.get(1));
        AtomicInteger admitted = new AtomicInteger();
        AtomicInteger limited = new AtomicInteger();
        AtomicLong firstSent = new AtomicLong(Long.MAX_VALUE);
        AtomicLong lastAnswered = new AtomicLong();
        long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            Thread thread = new Thread(() -> {
                for (int i = 0; i < 5000 && System.nanoTime() < until; i++) {
                    firstSent.accumulateAndGet(System.nanoTime(), Math::min);
                    HttpResponse<String> response = get(echo("/echo"));
                    lastAnswered.accumulateAndGet(System.nanoTime(), Math::max);
                    if (response.statusCode() == 200) {
                        admitted.incrementAndGet();
                    } else if (response.statusCode() == 429) {
                        limited.incrementAndGet();
                    }
                }
            });
            thread.start();
            threads.add(thread);
        }
        for (Thread thread : threads) {
            thread.join(Duration.ofSeconds(30).toMillis());
        }
        double seconds = (lastAnswered.get() - firstSent.get()) / 1e9;
        // Two echo sidecars, each with its own bucket: 20/s sustained plus the burst it starts with. (With a burst
        // of 1 a bucket that is full between two requests wastes refill, and admits ~10% less than the rate.)
        double expected = 2 * (20 * seconds + 5);
        assertThat((double) admitted.get()).as("admitted over %.2f s (%d limited)", seconds, limited.get())
                .isBetween(expected * 0.9, expected * 1.1);
        assertThat(limited.get()).isPositive();
    }

    @Test
    void policyChangesUnderTrafficFailNoRequest() throws Exception {
        TrafficLoop loop = TrafficLoop.start("http://127.0.0.1:" + web.upstreamPort("echo") + "/echo", 2,
                Duration.ofSeconds(60), 100_000);
        try {
            // Every step changes the snapshot (an unchanged one is not pushed, so there would be nothing to await).
            String[] balancers = {"ROUND_ROBIN", "EWMA", "RANDOM", "LEAST_REQUEST"};
            for (int step = 0; step < balancers.length; step++) {
                String balancer = balancers[step];
                int toV1 = 20 + 20 * step;
                applyAndAwait(trafficPolicy("echo", "loadBalancer: " + balancer, "timeouts: {request: 5s}"));
                applyAndAwait("""
                        kind: Route
                        metadata: {name: echo, namespace: default}
                        spec:
                          service: echo
                          rules:
                            - backends: [{subset: {version: v1}, weight: %d}, {subset: {version: v2}, weight: %d}]
                        """.formatted(toV1, 100 - toV1));
            }
        } finally {
            loop.close();
        }
        assertThat(loop.failures()).isEmpty();
        assertThat(loop.succeeded()).isPositive();
    }

    @Test
    void aCallerOpensAConnectionPerEventLoopToEachEndpointAndSharesThemAtMaxConnections() throws Exception {
        List<Integer> echoPorts = new ArrayList<>();
        for (SidecarProcess sidecar : sidecars) {
            if (sidecar.service().equals("echo")) {
                echoPorts.add(sidecar.inboundPort());
            }
        }
        // Two endpoints; the sidecars have two event loops each. Callers on many connections reach both loops of the
        // calling sidecar, and each loop opens its own connection to each endpoint...
        assertThat(peerConnectionsOfANewCaller("loops", echoPorts)).isEqualTo(4);

        // ...unless the cluster's limit says fewer: then a loop that may not open one shares another loop's.
        applyAndAwait(trafficPolicy("echo", "connectionLimits: {maxConnections: 2}"));
        assertThat(peerConnectionsOfANewCaller("loops-limited", echoPorts)).isEqualTo(2);
    }

    /**
     * The connections to {@code ports} that a new sidecar for {@code service}, calling echo, holds after
     * {@link #concurrentGets} through it all succeeded; the sidecar is stopped after.
     */
    private long peerConnectionsOfANewCaller(String service, List<Integer> ports) throws Exception {
        SidecarProcess caller = mesh.startSidecar(service, MeshHarness.freePort(), "--upstream", "echo");
        try {
            assertThat(concurrentGets(caller)).as("statuses").containsOnly(200);
            return peerConnections(caller, ports);
        } finally {
            caller.stop();
        }
    }

    /** 96 GETs through {@code caller}, from 8 clients at once (each its own connection to the caller). */
    private static List<Integer> concurrentGets(SidecarProcess caller) throws Exception {
        URI uri = URI.create("http://127.0.0.1:" + caller.upstreamPort("echo") + "/echo");
        MeshHarness.awaitCurl(Duration.ofSeconds(30), caller + " to learn about echo", status -> status == 200, uri.toString());
        java.util.concurrent.ExecutorService clients = java.util.concurrent.Executors.newFixedThreadPool(8);
        try {
            List<java.util.concurrent.Future<List<Integer>>> results = new ArrayList<>();
            for (int client = 0; client < 8; client++) {
                results.add(clients.submit(() -> {
                    HttpClient own = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
                    List<Integer> statuses = new ArrayList<>();
                    for (int i = 0; i < 12; i++) {
                        statuses.add(own.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).build(),
                                HttpResponse.BodyHandlers.discarding()).statusCode());
                    }
                    return statuses;
                }));
            }
            List<Integer> statuses = new ArrayList<>();
            for (java.util.concurrent.Future<List<Integer>> result : results) {
                statuses.addAll(result.get(60, java.util.concurrent.TimeUnit.SECONDS));
            }
            return statuses;
        } finally {
            clients.shutdownNow();
        }
    }

    /** The established TCP connections {@code caller}'s process holds to any of {@code ports}, as {@code ss} lists them. */
    private static long peerConnections(SidecarProcess caller, List<Integer> ports) throws Exception {
        String filter = ports.stream().map(port -> "dport = :" + port).collect(java.util.stream.Collectors.joining(" or "));
        PeerCommand.Output listed = PeerCommand.run(Duration.ofSeconds(10), "ss", "-Htnp", "state", "established", "( " + filter + " )");
        String owner = "pid=" + caller.process().pid() + ",";
        return listed.text().lines().filter(line -> line.contains(owner)).count();
    }

    /** A TrafficPolicy for {@code service} (named after it) with {@code specLines} under its spec. */
    private static String trafficPolicy(String service, String... specLines) {
        return "kind: TrafficPolicy\nmetadata: {name: " + service + ", namespace: default}\nspec:\n  service: " + service
                + "\n  " + String.join("\n  ", specLines) + "\n";
    }

    private void applyAndAwait(String yaml, SidecarProcess... alsoAwait) throws Exception {
        double before = web.metric("trellis_config_version");
        long[] othersBefore = new long[alsoAwait.length];
        for (int i = 0; i < alsoAwait.length; i++) {
            othersBefore[i] = (long) alsoAwait[i].metric("trellis_config_version");
        }
        mesh.apply(yaml);
        awaitNewConfig(before);
        for (int i = 0; i < alsoAwait.length; i++) {
            SidecarProcess sidecar = alsoAwait[i];
            long previous = othersBefore[i];
            MeshHarness.await(Duration.ofSeconds(20), sidecar + " to apply the change",
                    () -> metric(sidecar, "trellis_config_version") > previous);
        }
    }

    private void awaitNewConfig(double before) throws InterruptedException {
        MeshHarness.await(Duration.ofSeconds(20), "web to apply the change",
                () -> metric(web, "trellis_config_version") > before);
    }

    private static double metric(SidecarProcess sidecar, String name) {
        try {
            return sidecar.metric(name);
        } catch (IOException e) {
            return -1;
        }
    }

    private long flakyRequests(String method) {
        return v1.requests(method, "/flaky") + v2.requests(method, "/flaky");
    }

    private long statusRequests() {
        return v1.requests("GET", "/status") + v2.requests("GET", "/status");
    }

    private long slowRequests() {
        return v1.requests("GET", "/slow") + v2.requests("GET", "/slow");
    }

    private URI echo(String pathAndQuery) {
        return URI.create("http://127.0.0.1:" + web.upstreamPort("echo") + pathAndQuery);
    }

    private URI shaky(String pathAndQuery) {
        return URI.create("http://127.0.0.1:" + web.upstreamPort("shaky") + pathAndQuery);
    }

    private HttpResponse<String> get(URI uri) {
        return send(HttpRequest.newBuilder(uri));
    }

    private HttpResponse<String> send(HttpRequest.Builder request) {
        try {
            return http.send(request.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String backendOf(HttpResponse<String> response) {
        try {
            return MeshHarness.JSON.readTree(response.body()).path("backend").asText("none");
        } catch (IOException e) {
            return "unparsable: " + response.statusCode();
        }
    }
}
