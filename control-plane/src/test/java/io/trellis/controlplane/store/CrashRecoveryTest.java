package io.trellis.controlplane.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real control-plane process, killed with SIGKILL in the middle of concurrent writes, then restarted
 * on the same data directory: every acknowledged write is there, and so is the same CA.
 */
class CrashRecoveryTest {
    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private Process process;
    private int apiPort;

    @AfterEach
    void stop() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    private void start() throws Exception {
        apiPort = freePort();
        Path log = dir.resolve("control-plane-" + System.nanoTime() + ".log");
        process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                "io.trellis.controlplane.Main", "--data-dir", dir.resolve("data").toString(),
                "--api-port", Integer.toString(apiPort), "--api-host", "127.0.0.1",
                "--grpc-port", Integer.toString(freePort()), "--grpc-host", "127.0.0.1")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            assertThat(process.isAlive()).as("control plane exited: " + Files.readString(log)).isTrue();
            try {
                if (get("/api/v1/ca/bundle").statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // still starting
            }
            TimeUnit.MILLISECONDS.sleep(100);
        }
        throw new AssertionError("control plane did not answer within 60 s: " + Files.readString(log));
    }

    /** A read with the admin token once the control plane has written it (the trust bundle needs none). */
    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        Path tokenFile = dir.resolve("data/admin-token");
        return get(path, Files.exists(tokenFile) ? Files.readString(tokenFile).strip() : null);
    }

    private HttpResponse<String> get(String path, String token) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + apiPort + path))
                .timeout(Duration.ofSeconds(5));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private int put(String token, String name) throws IOException, InterruptedException {
        String doc = "kind: Route\nmetadata: {name: " + name + ", namespace: crash}\nspec: {service: " + name
                + ", rules: [{timeout: 2s}]}";
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + apiPort + "/api/v1/routes/crash/" + name))
                .timeout(Duration.ofSeconds(5)).header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/yaml").PUT(HttpRequest.BodyPublishers.ofString(doc)).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    @Test
    void everyAcknowledgedWriteSurvivesKillDashNineAndTheCaStaysTheSame() throws Exception {
        start();
        String token = Files.readString(dir.resolve("data/admin-token")).strip();
        String bundleBefore = get("/api/v1/ca/bundle").body();

        Set<String> acknowledged = ConcurrentHashMap.newKeySet();
        AtomicBoolean stop = new AtomicBoolean();
        ExecutorService writers = Executors.newFixedThreadPool(4);
        for (int w = 0; w < 4; w++) {
            int writer = w;
            writers.execute(() -> {
                // Bounded: at most 2,000 writes each, and they stop at the first refused connection.
                for (int i = 0; i < 2_000 && !stop.get(); i++) {
                    String name = "r-" + writer + "-" + i;
                    try {
                        int status = put(token, name);
                        if (status == 201 || status == 200) {
                            acknowledged.add(name);
                        }
                    } catch (IOException | InterruptedException e) {
                        return;
                    }
                }
            });
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (acknowledged.size() < 150 && System.nanoTime() < deadline) {
            TimeUnit.MILLISECONDS.sleep(5);
        }
        process.destroyForcibly(); // SIGKILL, while the writers are still writing
        process.waitFor(10, TimeUnit.SECONDS);
        stop.set(true);
        writers.shutdown();
        assertThat(writers.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
        assertThat(acknowledged.size()).isGreaterThanOrEqualTo(150);

        start();
        assertThat(get("/api/v1/ca/bundle").body()).isEqualTo(bundleBefore);
        List<String> missing = acknowledged.stream().filter(name -> {
            try {
                return get("/api/v1/routes/crash/" + name).statusCode() != 200;
            } catch (IOException | InterruptedException e) {
                return true;
            }
        }).toList();
        assertThat(missing).as("acknowledged writes lost in the crash").isEmpty();
        assertThat(put(token, "after-restart")).isEqualTo(201);
        assertThat(new File(dir.resolve("data/store/changes.log").toString()).length()).isPositive();
    }

    @Test
    void cleanRestartKeepsResourcesTokensAndCa() throws Exception {
        start();
        String token = Files.readString(dir.resolve("data/admin-token")).strip();
        assertThat(put(token, "kept")).isEqualTo(201);
        HttpResponse<String> minted = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + apiPort
                + "/api/v1/viewertokens")).header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"name\": \"dashboard\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(minted.statusCode()).isEqualTo(201);
        String viewer = minted.body().replaceAll(".*\"token\":\"([^\"]+)\".*", "$1");
        String bundle = get("/api/v1/ca/bundle").body();
        process.destroy();
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();

        start();
        assertThat(get("/api/v1/routes/crash/kept").body()).contains("timeout\":\"2s");
        assertThat(get("/api/v1/routes/crash/kept", viewer).statusCode()).isEqualTo(200);
        assertThat(get("/api/v1/ca/bundle").body()).isEqualTo(bundle);
        assertThat(Files.readString(dir.resolve("data/admin-token")).strip()).isEqualTo(token);
    }
}
