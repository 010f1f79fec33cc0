package io.trellis.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.IntPredicate;
import java.util.stream.Stream;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * A whole mesh on loopback for one test class: a control-plane process and sidecar processes, each started
 * from its module's {@code target/classes} + {@code target/lib} (so each has only its own classpath), with its
 * own ports on its own 127.0.0.x address. Every process is stopped by PID in {@link #close}.
 */
final class MeshHarness implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
    private static int nextAddress = 10;

    private final Path work;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final List<Process> processes = new ArrayList<>();
    private final int apiPort = freePort();
    private final int grpcPort = freePort();
    private Process controlPlane;
    private String adminToken;
    private Path bundleFile;

    private MeshHarness(Path work) {
        this.work = work;
    }

    /** A harness with no control plane: the test starts what it needs with {@link #launchPeer}. */
    static MeshHarness withoutControlPlane() throws IOException {
        return new MeshHarness(Files.createTempDirectory("trellis-e2e"));
    }

    /** A harness with a running control plane. */
    static MeshHarness start() throws Exception {
        MeshHarness harness = new MeshHarness(Files.createTempDirectory("trellis-e2e"));
        harness.startControlPlane();
        return harness;
    }

    /** Starts (or restarts, with the same data and ports) the control plane and waits until it answers. */
    void startControlPlane() throws Exception {
        controlPlane = launch("control-plane", "io.trellis.controlplane.Main", List.of("-Xmx256m", "-XX:+UseSerialGC"),
                List.of("--data-dir", work.resolve("cp").toString(), "--api-host", "127.0.0.1", "--api-port", Integer.toString(apiPort),
                        "--grpc-host", "127.0.0.1", "--grpc-port", Integer.toString(grpcPort)),
                work.resolve("control-plane.log"));
        await(Duration.ofSeconds(60), "the control plane to answer", () -> {
            try {
                return get("/api/v1/ca/bundle").statusCode() == 200;
            } catch (IOException e) {
                return false;
            }
        });
        adminToken = Files.readString(work.resolve("cp/admin-token")).strip();
        bundleFile = work.resolve("ca-bundle.pem");
        Files.writeString(bundleFile, get("/api/v1/ca/bundle").body());
    }

    /** SIGKILLs the control plane. */
    void killControlPlane() throws InterruptedException {
        controlPlane.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    }

    /** A single-use join token for default/{serviceAccount}, in a file. */
    Path joinToken(String serviceAccount) throws IOException {
        HttpResponse<String> minted = send("POST", "/api/v1/tokens",
                "{\"namespace\":\"default\",\"serviceAccount\":\"" + serviceAccount + "\",\"singleUse\":true}");
        if (minted.statusCode() != 201 && minted.statusCode() != 200) {
            throw new IllegalStateException("minting a token failed: " + minted.statusCode() + " " + minted.body());
        }
        Path file = work.resolve(serviceAccount + "-" + System.nanoTime() + ".token");
        Files.writeString(file, JSON.readTree(minted.body()).get("token").asText());
        return file;
    }

    /** Applies resources (YAML) through the REST API with the admin token. */
    void apply(String yaml) throws IOException {
        HttpRequest request = HttpRequest.newBuilder(api("/api/v1/apply")).header("Authorization", "Bearer " + adminToken)
                .header("Content-Type", "application/yaml").POST(HttpRequest.BodyPublishers.ofString(yaml)).build();
        HttpResponse<String> response = exchange(request);
        if (response.statusCode() / 100 != 2) {
            throw new IllegalStateException("apply failed: " + response.statusCode() + " " + response.body());
        }
    }

    /** Deletes a namespaced resource ({@code trafficpolicies}, {@code routes}...) in namespace default, if present. */
    void delete(String plural, String name) throws IOException {
        HttpResponse<String> response = send("DELETE", "/api/v1/" + plural + "/default/" + name, "");
        if (response.statusCode() / 100 != 2 && response.statusCode() != 404) {
            throw new IllegalStateException("delete failed: " + response.statusCode() + " " + response.body());
        }
    }

    /** GET on the control-plane API, with the admin token. */
    HttpResponse<String> get(String path) throws IOException {
        return exchange(HttpRequest.newBuilder(api(path)).header("Authorization", "Bearer " + adminToken)
                .timeout(Duration.ofSeconds(10)).GET().build());
    }

    /** The status of the proxy for {@code service} in /api/v1/proxies (null when not connected). */
    String proxyStatus(String service) throws IOException {
        for (JsonNode item : JSON.readTree(get("/api/v1/proxies").body()).get("items")) {
            if (item.get("service").asText().equals(service)) {
                return item.get("status").asText();
            }
        }
        return null;
    }

    /**
     * Starts a sidecar for {@code service} in front of an app on 127.0.0.1:{@code appPort}. Its ports are picked free
     * just before it starts, and another process may take one in between (outgoing connections draw source ports from
     * the same range): a sidecar that exits because it cannot bind is started again on new ports, at most twice.
     */
    SidecarProcess startSidecar(String service, int appPort, String... extraArgs) throws Exception {
        String address = "127.0.0." + nextAddress++;
        for (int tries = 1; ; tries++) {
            SidecarProcess sidecar = newSidecar(service, address, appPort, extraArgs);
            try {
                sidecar.start();
                return sidecar;
            } catch (AssertionError notReady) {
                String why = notReady.getMessage() == null ? "" : notReady.getMessage();
                if (tries == 3 || !why.contains("exited") || !(why.contains("cannot bind") || why.contains("Address already in use"))) {
                    throw notReady;
                }
                System.err.println("e2e: " + service + " sidecar could not bind a port picked for it; trying new ports");
            }
        }
    }

    /**
     * Launches a sidecar for {@code service} without waiting for it to be ready (one the control plane is expected to
     * refuse); the caller stops it, or {@link #close} does.
     */
    SidecarProcess launchSidecarUnready(String service, int appPort, String... extraArgs) throws Exception {
        SidecarProcess sidecar = newSidecar(service, "127.0.0." + nextAddress++, appPort, extraArgs);
        sidecar.launch();
        return sidecar;
    }

    private SidecarProcess newSidecar(String service, String address, int appPort, String... extraArgs) throws IOException {
        Map<String, Integer> upstreams = new LinkedHashMap<>();
        // The join token is for the identity the sidecar asks for: --service-account when given, else the service.
        String serviceAccount = service;
        for (int i = 0; i + 1 < extraArgs.length; i++) {
            if (extraArgs[i].equals("--service-account")) {
                serviceAccount = extraArgs[i + 1];
            }
        }
        List<String> args = new ArrayList<>(List.of("--service", service, "--app-port", Integer.toString(appPort),
                "--token-file", joinToken(serviceAccount).toString(), "--ca-bundle", bundleFile.toString(),
                "--control-plane", "127.0.0.1:" + grpcPort, "--bind-address", address,
                "--inbound-port", Integer.toString(freePort()), "--outbound-port", Integer.toString(freePort()),
                "--tunnel-port", Integer.toString(freePort()),
                "--admin-port", Integer.toString(freePort()), "--admin-address", "127.0.0.1",
                "--api-port", Integer.toString(freePort()), "--state-dir", work.resolve("state-" + service + "-" + address).toString(),
                "--drain-timeout", "5s"));
        for (int i = 0; i < extraArgs.length; i++) {
            if (extraArgs[i].equals("--upstream")) {
                // NAME (HTTP) or NAME[:PORT]/tcp: the harness picks the local port.
                int port = freePort();
                String target = extraArgs[i + 1];
                boolean tcp = target.endsWith("/tcp");
                String name = tcp ? target.substring(0, target.length() - 4) : target;
                upstreams.put(name, port);
                args.addAll(List.of("--upstream", name + "=" + port + (tcp ? "/tcp" : "")));
                i++;
            } else {
                args.add(extraArgs[i]);
            }
        }
        return new SidecarProcess(this, service, address, args, upstreams);
    }

    /**
     * Asserts that none of {@code sidecars} leaked a Netty buffer: they run Netty's leak detector in paranoid mode,
     * which reports a leaked buffer once the buffer has been collected and the next one is allocated, so each is made
     * to collect its garbage and then {@code traffic} (which must pass through every one of them) allocates.
     */
    static void assertNoBufferLeaked(Callable<?> traffic, SidecarProcess... sidecars) throws Exception {
        for (SidecarProcess sidecar : sidecars) {
            PeerCommand.run(Duration.ofSeconds(30), "jcmd", Long.toString(sidecar.process().pid()), "GC.run");
        }
        traffic.call();
        for (SidecarProcess sidecar : sidecars) {
            org.assertj.core.api.Assertions.assertThat(sidecar.log()).as(sidecar + " log").doesNotContain("LEAK:")
                    .doesNotContain("reached at the tail of the pipeline");
        }
    }

    /** Launches a sidecar JVM with {@code args}; its output goes to {@code log}. */
    Process launchSidecar(List<String> args, Path log) throws IOException {
        // The launcher's measured defaults, so that the suite proves them; and paranoid leak detection: every Netty
        // buffer the sidecar leaks is reported in its log (MeshTcpTest and MeshStreamingTest check).
        List<String> options = new ArrayList<>(sidecarJvmOptions());
        options.add("-Dio.netty.leakDetection.level=paranoid");
        ProcessBuilder builder = new ProcessBuilder(javaCommand("sidecar", "io.trellis.sidecar.Main", options, args));
        builder.environment().put("MALLOC_ARENA_MAX", "2");
        Process process = builder.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        processes.add(process);
        return process;
    }

    /** {@code sidecar/jvm.options}, as the launcher reads it. */
    static List<String> sidecarJvmOptions() throws IOException {
        return Files.readAllLines(ROOT.resolve("sidecar/jvm.options")).stream()
                .map(String::strip).filter(line -> !line.isEmpty() && !line.startsWith("#")).toList();
    }

    /** A sidecar for {@code service} with its ports and state dir picked, not started. */
    SidecarProcess plannedSidecar(String service, int appPort, String... extraArgs) throws IOException {
        return newSidecar(service, "127.0.0." + nextAddress++, appPort, extraArgs);
    }

    /**
     * Launches {@code ./trellis sidecar} with {@code args}, as a user runs it (the launcher's JVM options and start-up
     * cache), with {@code env} added to the environment; output goes to {@code log}.
     */
    Process launchThroughLauncher(List<String> args, Map<String, String> env, Path log) throws IOException {
        List<String> command = new ArrayList<>(List.of(ROOT.resolve("trellis").toString(), "sidecar"));
        command.addAll(args);
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().putAll(env);
        Process process = builder.start();
        processes.add(process);
        return process;
    }

    /** Launches a process of the sample apps module (an app, or the local Kafka broker); output goes to {@code log}. */
    Process launchSampleApp(String mainClass, List<String> jvmOptions, List<String> args, Path log) throws IOException {
        return launch("sample-apps", mainClass, jvmOptions, args, log);
    }

    /**
     * Starts a third-party peer ({@code command}, e.g. node or Debian's python3) whose output goes to
     * {@code <name>.log}; it is stopped by PID in {@link #close} like every other process of the harness.
     */
    Process launchPeer(String name, List<String> command) throws IOException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(work.resolve(name + ".log").toFile())).start();
        processes.add(process);
        return process;
    }

    /** The directory of the third-party peers ({@code e2e/peers}, installed by {@code e2e/peers/install.sh}). */
    static Path peers() {
        return ROOT.resolve("e2e/peers");
    }

    /** The mesh's trust bundle (PEM), as the sidecars were given it. */
    Path caBundle() {
        return bundleFile;
    }

    /** The harness's scratch directory. */
    Path work() {
        return work;
    }

    HttpClient http() {
        return http;
    }

    private Process launch(String module, String mainClass, List<String> jvmOptions, List<String> args, Path log)
            throws IOException {
        Process process = new ProcessBuilder(javaCommand(module, mainClass, jvmOptions, args)).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        processes.add(process);
        return process;
    }

    /** The command line that runs {@code mainClass} of {@code module} from its build output. */
    static List<String> javaCommand(String module, String mainClass, List<String> jvmOptions, List<String> args) {
        Path moduleDir = ROOT.resolve(module);
        if (!Files.isDirectory(moduleDir.resolve("target/lib"))) {
            throw new IllegalStateException(moduleDir + "/target/lib is missing: run the build through `mvn verify`"
                    + " (the package phase of " + module + " copies its libraries)");
        }
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmOptions);
        command.add("-cp");
        command.add(moduleDir.resolve("target/classes") + ":" + moduleDir.resolve("target/lib") + "/*");
        command.add(mainClass);
        command.addAll(args);
        return command;
    }

    /** The repository's root (where the {@code trellis} launcher is). */
    static Path root() {
        return ROOT;
    }

    private URI api(String path) {
        return URI.create("http://127.0.0.1:" + apiPort + path);
    }

    /** POST of a JSON body on the control-plane API, with the admin token. */
    HttpResponse<String> post(String path, String json) throws IOException {
        return send("POST", path, json);
    }

    /** The control plane's gRPC port. */
    int grpcPort() {
        return grpcPort;
    }

    private HttpResponse<String> send(String method, String path, String json) throws IOException {
        return exchange(HttpRequest.newBuilder(api(path)).header("Authorization", "Bearer " + adminToken)
                .header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json)).build());
    }

    HttpResponse<String> exchange(HttpRequest request) throws IOException {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    /** Waits (bounded) until curl with {@code curlArgs} gets an HTTP status {@code accepted} likes. */
    static void awaitCurl(Duration timeout, String what, IntPredicate accepted, String... curlArgs)
            throws InterruptedException {
        await(timeout, what, () -> {
            try {
                return accepted.test(Curl.run(curlArgs).status());
            } catch (IOException e) {
                return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        });
    }

    /** Waits (bounded) until the proxy of {@code service} reports {@code status} in /api/v1/proxies. */
    void awaitProxyStatus(String service, String status, Duration timeout) throws InterruptedException {
        await(timeout, service + " to be " + status, () -> {
            try {
                return status.equals(proxyStatus(service));
            } catch (IOException e) {
                return false;
            }
        });
    }

    /** An actor system for apps in the test JVM: HTTP/2 (h2c) on, no body size limit. */
    static ActorSystem<Void> appSystem(String name) {
        return ActorSystem.create(Behaviors.empty(), name, ConfigFactory.parseString("pekko.http.server.enable-http2 = on\n"
                + "pekko.http.server.parsing.max-content-length = infinite").withFallback(ConfigFactory.load()));
    }

    /** Waits (bounded) until {@code condition} holds. */
    static void await(Duration timeout, String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting for " + what);
    }

    static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The last lines of a process log, for failure messages. */
    String logTail(String name) {
        try {
            List<String> lines = Files.readAllLines(work.resolve(name));
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log " + name + ")";
        }
    }

    @Override
    public void close() throws IOException {
        for (Process process : processes) {
            process.destroy();
        }
        for (Process process : processes) {
            try {
                if (!process.waitFor(15, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        if (System.getenv("TRELLIS_E2E_KEEP_LOGS") != null) {
            System.err.println("e2e: logs kept in " + work);
            return;
        }
        try (Stream<Path> files = Files.walk(work)) {
            files.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        }
    }
}
