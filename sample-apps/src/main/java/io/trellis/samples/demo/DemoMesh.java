package io.trellis.samples.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * {@code ./trellis demo}: a local mesh with embedded defaults. Starts the control plane, a local Kafka broker, the
 * inventory (gRPC), orders (HTTP, publishes events) and notifications (subscribes to them) sample apps each with
 * its sidecar, sends a little traffic through the mesh, prints where to look, and stays up until Ctrl-C, then stops
 * every process it started.
 *
 * <p>Usage: {@code DemoMesh ROOT} where ROOT is the project directory (the launcher passes it).
 */
public final class DemoMesh {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int API_PORT = 8080;
    private static final int GRPC_PORT = 15010;
    private static final int INVENTORY_APP_PORT = 9090;
    private static final int ORDERS_APP_PORT = 8081;
    private static final int INVENTORY_LOCAL_PORT = 9191;
    private static final int NOTIFICATIONS_APP_PORT = 8082;
    private static final int KAFKA_PORT = 9092;
    private static final int KAFKA_CONTROLLER_PORT = 9093;

    private final Path root;
    private final Path work;
    private final List<Process> processes = new ArrayList<>();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();

    private DemoMesh(Path root) {
        this.root = root;
        this.work = root.resolve(".trellis/demo");
    }

    /** Runs the demo until interrupted. */
    public static void main(String[] args) throws Exception {
        DemoMesh demo = new DemoMesh(Path.of(args.length > 0 ? args[0] : ".").toAbsolutePath().normalize());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            demo.stopAll();
            stopped.countDown();
        }, "demo-cleanup"));
        try {
            demo.run();
        } catch (Exception e) {
            System.err.println("demo: " + e.getMessage());
            System.err.println("demo: logs are in " + demo.work.resolve("logs"));
            System.exit(1);
        }
        stopped.await();
    }

    private void run() throws Exception {
        for (int port : new int[] {API_PORT, GRPC_PORT, INVENTORY_APP_PORT, ORDERS_APP_PORT, INVENTORY_LOCAL_PORT, 15001, 15002, 15020,
                15101, 15102, 15120, NOTIFICATIONS_APP_PORT, 15201, 15202, 15220, KAFKA_PORT, KAFKA_CONTROLLER_PORT}) {
            requireFree(port);
        }
        deleteRecursively(work);
        Files.createDirectories(work.resolve("logs"));

        step("control plane on http://127.0.0.1:" + API_PORT + " (gRPC " + GRPC_PORT + ")");
        launch("control-plane", "control-plane", "io.trellis.controlplane.Main", List.of("-Xmx256m"),
                List.of("--data-dir", work.resolve("control-plane").toString(), "--api-host", "127.0.0.1",
                        "--api-port", Integer.toString(API_PORT), "--grpc-host", "127.0.0.1", "--grpc-port", Integer.toString(GRPC_PORT)));
        awaitHttp("http://127.0.0.1:" + API_PORT + "/api/v1/ca/bundle", Duration.ofSeconds(90));
        String admin = Files.readString(work.resolve("control-plane/admin-token")).strip();
        Path bundle = work.resolve("ca-bundle.pem");
        Files.writeString(bundle, get("http://127.0.0.1:" + API_PORT + "/api/v1/ca/bundle"));

        step("Kafka broker (KRaft, one node) on 127.0.0.1:" + KAFKA_PORT + "; orders events go to notifications");
        launch("kafka", "sample-apps", "io.trellis.samples.broker.LocalKafkaBroker", List.of("-Xmx384m"), List.of("--port",
                Integer.toString(KAFKA_PORT), "--controller-port", Integer.toString(KAFKA_CONTROLLER_PORT), "--data-dir",
                work.resolve("kafka").toString()));
        apply(admin, """
                kind: MeshConfig
                metadata: {name: default}
                spec: {kafka: {bootstrapServers: "127.0.0.1:%d"}}
                ---
                kind: Subscription
                metadata: {name: notifications-orders, namespace: default}
                spec: {service: notifications, topics: [orders], path: /events, maxInFlight: 16}
                """.formatted(KAFKA_PORT));

        step("inventory app (gRPC) on 127.0.0.1:" + INVENTORY_APP_PORT + ", its sidecar inbound on 127.0.0.2:15006");
        launch("inventory-app", "sample-apps", "io.trellis.samples.inventory.InventoryApp", List.of("-Xmx64m"),
                List.of(Integer.toString(INVENTORY_APP_PORT)));
        launchSidecar("inventory", INVENTORY_APP_PORT, "127.0.0.2", 15101, 15120, 15102, token(admin, "inventory"), bundle, List.of(
                "--label", "version=v1"));

        step("orders app (HTTP) on 127.0.0.1:" + ORDERS_APP_PORT + ", calling inventory via its sidecar at 127.0.0.1:" + INVENTORY_LOCAL_PORT);
        launch("orders-app", "sample-apps", "io.trellis.samples.orders.OrdersApp", List.of("-Xmx64m"),
                List.of(Integer.toString(ORDERS_APP_PORT), Integer.toString(INVENTORY_LOCAL_PORT), "15002"));
        launchSidecar("orders", ORDERS_APP_PORT, "127.0.0.3", 15001, 15020, 15002, token(admin, "orders"), bundle, List.of(
                "--upstream", "inventory=" + INVENTORY_LOCAL_PORT));

        step("notifications app (Kafka subscriber) on 127.0.0.1:" + NOTIFICATIONS_APP_PORT + ", fed by its sidecar");
        launch("notifications-app", "sample-apps", "io.trellis.samples.notifications.NotificationsApp", List.of("-Xmx64m"),
                List.of(Integer.toString(NOTIFICATIONS_APP_PORT)));
        launchSidecar("notifications", NOTIFICATIONS_APP_PORT, "127.0.0.4", 15201, 15220, 15202, token(admin, "notifications"),
                bundle, List.of());

        awaitHttp("http://127.0.0.1:15120/healthz/ready", Duration.ofSeconds(90));
        awaitHttp("http://127.0.0.1:15020/healthz/ready", Duration.ofSeconds(90));
        awaitHttp("http://127.0.0.1:15220/healthz/ready", Duration.ofSeconds(90));
        awaitHttp("http://127.0.0.1:" + ORDERS_APP_PORT + "/orders/quote?sku=apple&quantity=1", Duration.ofSeconds(30));

        step("traffic: orders -> orders' sidecar -> mTLS -> inventory's sidecar -> inventory");
        for (String sku : List.of("apple", "pear", "fig")) {
            System.out.println("  GET /orders/quote?sku=" + sku + "&quantity=3  ->  "
                    + get("http://127.0.0.1:" + ORDERS_APP_PORT + "/orders/quote?sku=" + sku + "&quantity=3"));
        }
        System.out.println("  GET /orders/stock?sku=apple (server-streaming gRPC)  ->  "
                + get("http://127.0.0.1:" + ORDERS_APP_PORT + "/orders/stock?sku=apple"));
        for (int i = 0; i < 20; i++) {
            get("http://127.0.0.1:" + ORDERS_APP_PORT + "/orders/quote?sku=apple&quantity=" + (i + 1));
        }
        System.out.println("  GET /orders/quote?sku=kiwi  ->  " + get("http://127.0.0.1:" + ORDERS_APP_PORT + "/orders/quote?sku=kiwi"));

        step("events: orders -> its sidecar -> Kafka topic orders -> notifications' sidecar -> POST /events");
        for (String sku : List.of("apple", "pear")) {
            System.out.println("  POST /orders?sku=" + sku + "&quantity=2  ->  " + placeOrder(sku));
        }
        awaitLogLine(work.resolve("logs/notifications-app.log"), "notify: order", Duration.ofSeconds(60));
        System.out.println("  notifications received (logs/notifications-app.log):");
        try (Stream<String> lines = Files.lines(work.resolve("logs/notifications-app.log"))) {
            lines.filter(line -> line.contains("notify: order")).forEach(line -> System.out.println("    " + line));
        }

        System.out.println();
        System.out.println("The mesh is up. Try:");
        System.out.println("  curl 'http://127.0.0.1:" + ORDERS_APP_PORT + "/orders/quote?sku=pear&quantity=2'    the orders app");
        String auth = "-H \"Authorization: Bearer $(cat " + work.resolve("control-plane/admin-token") + ")\" ";
        System.out.println("  curl " + auth + "http://127.0.0.1:" + API_PORT + "/api/v1/proxies     sidecars and their sync state");
        System.out.println("  curl " + auth + "http://127.0.0.1:" + API_PORT + "/api/v1/services    services and endpoints");
        System.out.println("  curl -s http://127.0.0.1:15020/metrics | grep trellis_             orders' sidecar metrics");
        System.out.println("  curl -s http://127.0.0.1:15120/metrics | grep trellis_             inventory's sidecar metrics");
        System.out.println("  curl -i -H 'Host: nosuch' http://127.0.0.1:15001/                  a sidecar's own error (no-route)");
        System.out.println("  curl -X POST 'http://127.0.0.1:" + ORDERS_APP_PORT + "/orders?sku=fig&quantity=1'       an order: an event to notifications");
        System.out.println("  curl -s http://127.0.0.1:15220/metrics | grep trellis_kafka_       notifications' delivery metrics");
        System.out.println("  admin token (every API call but the trust bundle): " + work.resolve("control-plane/admin-token"));
        System.out.println("  logs: " + work.resolve("logs"));
        System.out.println("Ctrl-C stops everything.");
    }

    private void launchSidecar(String service, int appPort, String address, int outbound, int adminPort, int apiPort, Path token,
            Path bundle, List<String> extra) throws IOException {
        List<String> args = new ArrayList<>(List.of("--service", service, "--app-port", Integer.toString(appPort),
                "--token-file", token.toString(), "--ca-bundle", bundle.toString(), "--control-plane", "127.0.0.1:" + GRPC_PORT,
                "--bind-address", address, "--outbound-port", Integer.toString(outbound), "--admin-port", Integer.toString(adminPort),
                "--admin-address", "127.0.0.1", "--api-port", Integer.toString(apiPort),
                "--state-dir", work.resolve("sidecar-" + service).toString()));
        args.addAll(extra);
        // Through the launcher, as a user runs one: its JDK, JVM options and start-up cache.
        List<String> command = new ArrayList<>(List.of(root.resolve("trellis").toString(), "sidecar"));
        command.addAll(args);
        start("sidecar-" + service, command);
    }

    private String placeOrder(String sku) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ORDERS_APP_PORT
                    + "/orders?sku=" + sku + "&quantity=2")).timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.noBody())
                    .build(), HttpResponse.BodyHandlers.ofString());
            // The broker may still be electing itself leader of the new topic: that is a clear 502 and worth a retry.
            if (answer.statusCode() == 201 || System.nanoTime() > deadline) {
                return answer.body();
            }
            Thread.sleep(1_000);
        }
    }

    private void apply(String admin, String yaml) throws IOException, InterruptedException {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + API_PORT + "/api/v1/apply"))
                .header("Authorization", "Bearer " + admin).header("Content-Type", "application/yaml")
                .POST(HttpRequest.BodyPublishers.ofString(yaml)).build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() / 100 != 2) {
            throw new IllegalStateException("applying the demo's resources failed: " + response.statusCode() + " " + response.body());
        }
    }

    private void awaitLogLine(Path log, String text, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(log) && Files.readString(log).contains(text)) {
                return;
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException("no line '" + text + "' in " + log + " within " + timeout.toSeconds() + " s");
    }

    private Path token(String admin, String serviceAccount) throws IOException, InterruptedException {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + API_PORT + "/api/v1/tokens"))
                .header("Authorization", "Bearer " + admin).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"namespace\":\"default\",\"serviceAccount\":\"" + serviceAccount
                        + "\",\"singleUse\":true}")).build(), HttpResponse.BodyHandlers.ofString());
        JsonNode body = JSON.readTree(response.body());
        Path file = work.resolve(serviceAccount + ".token");
        Files.writeString(file, body.get("token").asText());
        return file;
    }

    private void launch(String name, String module, String mainClass, List<String> jvm, List<String> args) throws IOException {
        Path moduleDir = root.resolve(module);
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-XX:+UseSerialGC");
        command.addAll(jvm);
        command.addAll(List.of("-cp", moduleDir.resolve("target/classes") + ":" + moduleDir.resolve("target/lib") + "/*", mainClass));
        command.addAll(args);
        start(name, command);
    }

    private void start(String name, List<String> command) throws IOException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(work.resolve("logs/" + name + ".log").toFile()).start();
        processes.add(process);
    }

    private String get(String url) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20)).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    private void awaitHttp(String url, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            for (Process process : processes) {
                if (!process.isAlive()) {
                    throw new IllegalStateException("a process exited early (" + process.info().command().orElse("?") + ")");
                }
            }
            try {
                if (http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // keep waiting
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException(url + " did not answer within " + timeout.toSeconds() + " s");
    }

    private static void requireFree(int port) {
        try {
            new Socket("127.0.0.1", port).close();
            throw new IllegalStateException("port " + port + " is already in use; stop whatever listens there first");
        } catch (ConnectException free) {
            // nothing listens: good
        } catch (IOException e) {
            throw new IllegalStateException("cannot check port " + port + ": " + e.getMessage(), e);
        }
    }

    private static void step(String text) {
        System.out.println("==> " + text);
    }

    private void stopAll() {
        for (int i = processes.size() - 1; i >= 0; i--) {
            processes.get(i).destroy();
        }
        for (Process process : processes) {
            try {
                if (!process.waitFor(20, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
            }
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        }
    }
}
