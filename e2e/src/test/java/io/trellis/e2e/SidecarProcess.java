package io.trellis.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** One sidecar process of a {@link MeshHarness}: its ports, its admin and local API, restart and kill. */
final class SidecarProcess {
    private final MeshHarness harness;
    private final String service;
    private final String address;
    private final List<String> args;
    private final Map<String, Integer> upstreams;
    private Process process;
    private int starts;

    SidecarProcess(MeshHarness harness, String service, String address, List<String> args, Map<String, Integer> upstreams) {
        this.harness = harness;
        this.service = service;
        this.address = address;
        this.args = args;
        this.upstreams = upstreams;
    }

    /** Starts the process and waits until it reports ready. */
    void start() throws Exception {
        launch();
        awaitReady();
    }

    /** Starts the process through {@code ./trellis sidecar}, with {@code env} added, and waits until it is ready. */
    void startThroughLauncher(Map<String, String> env) throws Exception {
        process = harness.launchThroughLauncher(args, env, harness.work().resolve(logName()));
        starts++;
        awaitReady();
    }

    private void awaitReady() throws Exception {
        awaitWhileAlive(Duration.ofSeconds(60), "to be ready", () -> {
            try {
                return admin("/healthz/ready").statusCode() == 200;
            } catch (IOException e) {
                return false;
            }
        });
    }

    /**
     * Waits (bounded) until {@code condition} holds, failing at once if the process exits first; either failure
     * carries the log's tail as it is then.
     */
    void awaitWhileAlive(Duration timeout, String what, java.util.function.BooleanSupplier condition)
            throws InterruptedException {
        try {
            MeshHarness.await(timeout, this + " " + what, () -> {
                if (!process.isAlive()) {
                    throw new AssertionError(this + " exited with " + process.exitValue() + " while waiting " + what);
                }
                return condition.getAsBoolean();
            });
        } catch (AssertionError failed) {
            // The log as it is now, not as it was when the wait began.
            throw new AssertionError(failed.getMessage() + "\n" + harness.logTail(logName()), failed);
        }
    }

    /** Starts the process without waiting for it (a sidecar that is never to become ready). */
    void launch() throws IOException {
        process = harness.launchSidecar(args, harness.work().resolve(logName()));
        starts++;
    }

    /** SIGTERM, and wait for the process to exit. */
    void stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** The service it serves. */
    String service() {
        return service;
    }

    /** The process (for its PID and exit). */
    Process process() {
        return process;
    }

    String address() {
        return address;
    }

    int inboundPort() {
        return port("--inbound-port");
    }

    int outboundPort() {
        return port("--outbound-port");
    }

    int adminPort() {
        return port("--admin-port");
    }

    int apiPort() {
        return port("--api-port");
    }

    int upstreamPort(String target) {
        return upstreams.get(target);
    }

    /** GET on the admin port. */
    HttpResponse<String> admin(String path) throws IOException {
        return harness.exchange(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort() + path))
                .timeout(Duration.ofSeconds(10)).GET().build());
    }

    /** The value of one metric line (exact name with labels as printed), or -1 when absent. */
    double metric(String nameWithLabels) throws IOException {
        for (String line : admin("/metrics").body().split("\n")) {
            if (line.startsWith(nameWithLabels + " ")) {
                return Double.parseDouble(line.substring(nameWithLabels.length() + 1).trim());
            }
        }
        return -1;
    }

    /** The sum of every sample of {@code name} whose labels contain {@code labelFragment}. */
    double metricSum(String name, String labelFragment) throws IOException {
        double sum = 0;
        for (String line : admin("/metrics").body().split("\n")) {
            if (line.startsWith(name + "{") && line.contains(labelFragment)) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    /** {@code GET /v1/identity} on the local API. */
    JsonNode identity() throws IOException {
        return MeshHarness.JSON.readTree(harness.exchange(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + apiPort() + "/v1/identity")).GET().build()).body());
    }

    /** {@code POST /v1/identity/renew} on the local API. */
    int renew() throws IOException {
        return harness.exchange(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + apiPort() + "/v1/identity/renew"))
                .POST(HttpRequest.BodyPublishers.noBody()).build()).statusCode();
    }

    /** The process log's tail. */
    String logTail() {
        return harness.logTail(logName());
    }

    /** The whole log so far. */
    String log() throws IOException {
        return java.nio.file.Files.readString(harness.work().resolve(logName()));
    }

    /** Its own log: two sidecars may serve one service (an impostor, a second endpoint), never at one address. */
    private String logName() {
        return "sidecar-" + service + "-" + address + ".log";
    }

    int tunnelPort() {
        return port("--tunnel-port");
    }

    private int port(String flag) {
        return Integer.parseInt(args.get(args.indexOf(flag) + 1));
    }

    @Override
    public String toString() {
        return service + " sidecar";
    }

    Path stateDir() {
        return Path.of(args.get(args.indexOf("--state-dir") + 1));
    }

    /**
     * A directory with this sidecar's key and chain ({@code client.pem}, {@code client.key}) and the trust bundle
     * ({@code ca.pem}), as openssl and python3-h2 take them: to act as this identity with a peer tool.
     */
    Path certificatesForPeerTools() throws IOException {
        Path certs = harness.work().resolve(service + "-certs");
        java.nio.file.Files.createDirectories(certs);
        for (String[] copy : new String[][] {{"identity.pem", "client.pem"}, {"identity.pem", "client.key"},
                {"trust-bundle.pem", "ca.pem"}}) {
            java.nio.file.Files.copy(stateDir().resolve(copy[0]), certs.resolve(copy[1]),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        return certs;
    }
}
