package io.trellis.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Injected pods, run: two pod manifests go through {@code ./trellis inject}, and the injected specs run in network
 * namespaces this test makes (a node with a bridge, a namespace per pod on it, addresses from the benchmarking range
 * 198.18.0.0/15), through {@link PodRunner}, a double of the kubelet: {@code trellis-init} installs the redirect, the proxy starts as
 * uid 1337 from the spec's env and volumes and enrols with the pod's service-account token (reviewed by a double of
 * the API server), and the apps start behind it. The client's app then calls the backend
 * pod's address with plain HTTP, and the call reaches the backend's app (which listens on 127.0.0.1 only) through both
 * proxies over mTLS. Needs root (namespaces, mounts, iptables), as CI has.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KubernetesPodTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final String CLIENT_IP = "198.18.0.1";
    private static final String BACKEND_IP = "198.18.0.2";
    private static final String NODE_IP = "198.18.0.254";
    /** The backend Service's ClusterIP: no host has it; only the client's proxy knows it is the backend's. */
    private static final String SERVICE_IP = "198.18.1.10";
    /** A Service without sidecars, whose one ready endpoint is the plain server on the node. */
    private static final String LEGACY_IP = "198.18.1.20";
    private static final int API_PORT = 18080;

    private final String id = Long.toString(ProcessHandle.current().pid());
    private final String clientNs = "trellis-client-" + id;
    private final String backendNs = "trellis-backend-" + id;
    private final String nodeNs = "trellis-node-" + id;
    private MeshHarness mesh;
    private Path dist;
    private String adminToken;
    private final Map<String, String> initOutput = new HashMap<>();

    @BeforeAll
    void startPods() throws Exception {
        assumeTrue("0".equals(run(List.of("id", "-u")).strip()), "needs root: network namespaces, mounts and iptables");
        mesh = MeshHarness.withoutControlPlane();
        dist = readableDistribution();
        // A node with a bridge, and a pod namespace on it for each pod, as a CNI plugin would make them.
        run(List.of("ip", "netns", "add", nodeNs));
        run(List.of("ip", "-n", nodeNs, "link", "add", "br0", "type", "bridge"));
        run(List.of("ip", "-n", nodeNs, "addr", "add", NODE_IP + "/24", "dev", "br0"));
        run(List.of("ip", "-n", nodeNs, "link", "set", "br0", "up"));
        run(List.of("ip", "-n", nodeNs, "link", "set", "lo", "up"));
        for (String[] pod : new String[][] {{clientNs, "c", CLIENT_IP}, {backendNs, "b", BACKEND_IP}}) {
            String veth = "trv" + id + pod[1];
            run(List.of("ip", "netns", "add", pod[0]));
            run(List.of("ip", "-n", nodeNs, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", pod[0]));
            run(List.of("ip", "-n", nodeNs, "link", "set", veth, "master", "br0", "up"));
            run(List.of("ip", "-n", pod[0], "addr", "add", pod[2] + "/24", "dev", "eth0"));
            run(List.of("ip", "-n", pod[0], "link", "set", "eth0", "up"));
            run(List.of("ip", "-n", pod[0], "link", "set", "lo", "up"));
            run(List.of("ip", "-n", pod[0], "route", "add", "default", "via", NODE_IP));
        }

        // The API server (a double: none can run here), on the node, with a service-account token for each pod,
        // and the control plane, which has it review those tokens.
        Path kube = Files.createDirectories(mesh.work().resolve("kubernetes"));
        mesh.launchPeer("kubernetes-api", netns(nodeNs, List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx64m", "-cp", MeshHarness.root().resolve("control-plane/target/test-classes") + ":"
                        + MeshHarness.root().resolve("control-plane/target/classes") + ":"
                        + MeshHarness.root().resolve("control-plane/target/lib") + "/*",
                "io.trellis.controlplane.kubernetes.KubernetesApiDouble", NODE_IP, "6443", kube.toString(),
                "default/backend=" + kube.resolve("backend.token"), "default/client=" + kube.resolve("client.token"),
                "svc:default/backend=" + SERVICE_IP, "svc:default/legacy=" + LEGACY_IP + "@" + NODE_IP + ":9998")));
        MeshHarness.await(Duration.ofSeconds(60), "the API server double", () -> Files.exists(kube.resolve("ready")));
        Path ready = mesh.work().resolve("cp.ready");
        mesh.launchPeer("control-plane", netns(nodeNs, MeshHarness.javaCommand("control-plane",
                "io.trellis.controlplane.Main", List.of("-Xmx256m", "-XX:+UseSerialGC",
                        "-Dtrellis.kubernetes.api-server=https://" + NODE_IP + ":6443",
                        "-Dtrellis.kubernetes.token-file=" + kube.resolve("token"),
                        "-Dtrellis.kubernetes.ca-file=" + kube.resolve("ca.crt")),
                List.of("--data-dir", mesh.work().resolve("cp").toString(), "--api-host", "127.0.0.1",
                        "--api-port", Integer.toString(API_PORT), "--grpc-host", NODE_IP, "--grpc-port", "15010",
                        "--ready-file", ready.toString()))));
        MeshHarness.await(Duration.ofSeconds(90), "the control plane's ready file", () -> Files.exists(ready));
        adminToken = Files.readString(mesh.work().resolve("cp/admin-token")).strip();
        Path bundle = mesh.work().resolve("bundle.pem");
        Files.writeString(bundle, run(netns(nodeNs, List.of("curl", "-sf",
                "http://127.0.0.1:" + API_PORT + "/api/v1/ca/bundle"))));

        Path site = Files.createDirectories(mesh.work().resolve("site"));
        Files.writeString(site.resolve("hello.txt"), "hello from a server outside the mesh\n");
        // The backend's app: Python's http.server, answering with the caller identity its proxy vouched for.
        Files.writeString(site.resolve("app.py"), """
                import http.server
                class App(http.server.BaseHTTPRequestHandler):
                    def do_GET(self):
                        peer = self.headers.get("trellis-peer-identity", "none")
                        body = ("hello from the backend's app; caller " + peer + "\\n").encode()
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                http.server.HTTPServer(("127.0.0.1", 8080), App).serve_forever()
                """);
        Path manifests = mesh.work().resolve("pods.yaml");
        Files.writeString(manifests, """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: backend-0
                  namespace: default
                  labels: {app: backend, version: v1}
                  annotations:
                    trellis.io/exclude-inbound-ports: "9999"
                spec:
                  serviceAccountName: backend
                  containers:
                    - name: backend
                      image: python:3
                      command: [/usr/bin/python3, %s/app.py]
                      ports: [{name: http, containerPort: 8080}]
                      readinessProbe:
                        httpGet: {path: /ready, port: http}
                        periodSeconds: 2
                ---
                apiVersion: v1
                kind: Pod
                metadata:
                  name: client-0
                  namespace: default
                  labels: {app: client}
                  annotations:
                    trellis.io/exclude-outbound-ports: "9999"
                spec:
                  serviceAccountName: client
                  containers:
                    - name: client
                      image: busybox
                      command: [sleep, "600"]
                """.formatted(site));
        String injected = run(List.of(MeshHarness.root().resolve("trellis").toString(), "inject", "-f",
                manifests.toString(), "--ca-bundle", bundle.toString(), "--control-plane", NODE_IP + ":15010"));
        List<JsonNode> pods = new ArrayList<>();
        try (MappingIterator<JsonNode> docs = YAML.readerFor(JsonNode.class).readValues(injected)) {
            docs.forEachRemaining(pods::add);
        }

        String launcher = dist.resolve("trellis").toString();
        PodRunner kubelet = new PodRunner(mesh, nodeNs, Map.of("trellis/sidecar", List.of(launcher),
                "trellis/init", List.of(launcher)));
        // The kubelet projects each pod's service-account token (audience trellis) into the pod.
        kubelet.run(pods.get(0), backendNs, BACKEND_IP, Files.readString(kube.resolve("backend.token")));
        kubelet.run(pods.get(1), clientNs, CLIENT_IP, Files.readString(kube.resolve("client.token")));
        initOutput.put("client", mesh.logTail(PodRunner.logName("client-0", "trellis-init")));

        // Servers outside the mesh, on the node: HTTP, TLS, a protocol where the client speaks first (Redis) and one
        // where the server does (SMTP).
        mesh.launchPeer("outside-http", netns(nodeNs, List.of("/usr/bin/python3", "-m", "http.server", "9998",
                "--bind", NODE_IP, "--directory", site.toString())));
        run(List.of("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", mesh.work().resolve("outside.key").toString(), "-out", mesh.work().resolve("outside.pem").toString(),
                "-subj", "/CN=outside.example", "-days", "1"));
        mesh.launchPeer("outside-tls", netns(nodeNs, List.of("openssl", "s_server", "-www", "-accept", NODE_IP + ":8443",
                "-cert", mesh.work().resolve("outside.pem").toString(), "-key", mesh.work().resolve("outside.key").toString())));
        mesh.launchPeer("outside-redis", netns(nodeNs, List.of("redis-server", "--port", "6390", "--bind", NODE_IP,
                "--save", "", "--appendonly", "no", "--protected-mode", "no")));
        mesh.launchPeer("outside-smtp", netns(nodeNs, List.of("/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l",
                NODE_IP + ":8025")));
        // A server outside the mesh, on a port both pods exclude.
        mesh.launchPeer("plain-server", netns(backendNs, List.of("/usr/bin/python3", "-m", "http.server", "9999",
                "--bind", BACKEND_IP, "--directory", site.toString())));
        MeshHarness.await(Duration.ofSeconds(30), "the plain server", () ->
                PodRunner.curlStatus(nodeNs, "http://" + BACKEND_IP + ":9999/hello.txt") == 200);
    }

    @AfterAll
    void stop() throws Exception {
        if (mesh != null) {
            mesh.close();
        }
        for (String ns : List.of(clientNs, backendNs, nodeNs)) {
            new ProcessBuilder("ip", "netns", "del", ns).redirectErrorStream(true).start().waitFor(30, TimeUnit.SECONDS);
        }
        if (dist != null && !dist.equals(MeshHarness.root())) {
            try (Stream<Path> files = Files.walk(dist)) {
                files.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
            }
        }
    }

    @Test
    void theClientAppsPlainCallToTheBackendPodsAddressReachesItsAppThroughBothProxiesOverMtls() throws Exception {
        // The backend's app listens on 127.0.0.1 only, and the backend pod's address answers only mTLS: the call can
        // arrive only through the client's proxy (the redirect) and then the backend's (mTLS, then 127.0.0.1).
        String body = run(netns(clientNs, List.of("curl", "-sS", "--max-time", "10", "-H", "Host: backend",
                "-D", "-", "http://" + BACKEND_IP + ":8080/")));
        assertThat(body).startsWith("HTTP/1.1 200")
                .contains("hello from the backend's app; caller spiffe://cluster.local/ns/default/sa/client");
    }

    @Test
    void aCallToTheBackendPodsAddressWithNoMeshNameInItIsMeshedByTheAddressItWasGoingTo() throws Exception {
        // The Host is the pod's IP: the client's proxy reads where the redirect took the connection from.
        String body = run(netns(clientNs, List.of("curl", "-sS", "--max-time", "10", "http://" + BACKEND_IP + ":8080/")));
        assertThat(body).contains("hello from the backend's app; caller spiffe://cluster.local/ns/default/sa/client");
    }

    @Test
    void aCallToTheBackendServicesClusterIpIsMeshed() throws Exception {
        // The control plane watches the Services and gives the backend's ClusterIP to the backend's cluster.
        MeshHarness.await(Duration.ofSeconds(30), "the ClusterIP to reach the backend", () -> {
            try {
                return run(netns(clientNs, List.of("curl", "-sS", "--max-time", "5", "http://" + SERVICE_IP + "/")))
                        .contains("hello from the backend's app; caller spiffe://cluster.local/ns/default/sa/client");
            } catch (IOException | AssertionError e) {
                return false;
            }
        });
    }

    @Test
    void aKubernetesServiceWithoutSidecarsIsReachedByNameAtItsReadyPods() throws Exception {
        // Its ClusterIP leads nowhere: only the endpoints the control plane took from its EndpointSlice answer.
        MeshHarness.await(Duration.ofSeconds(30), "legacy's endpoints in the client's proxy", () -> {
            try {
                return run(netns(clientNs, List.of("curl", "-sS", "--max-time", "5", "--resolve", "legacy:80:" + LEGACY_IP,
                        "http://legacy/hello.txt"))).contains("hello from a server outside the mesh");
            } catch (IOException | AssertionError e) {
                return false;
            }
        });
    }

    @Test
    void trafficToDestinationsOutsideTheMeshPassesThroughAsItWas() throws Exception {
        assertThat(run(netns(clientNs, List.of("curl", "-sS", "--max-time", "10", "-D", "-",
                "http://" + NODE_IP + ":9998/hello.txt"))))
                .as("HTTP to a host the mesh does not know").contains("Server: SimpleHTTP")
                .contains("hello from a server outside the mesh");
        assertThat(run(netns(clientNs, List.of("curl", "-sSk", "--max-time", "10", "https://" + NODE_IP + ":8443/"))))
                .as("TLS, end to end between the app and the server").contains("s_server");
        assertThat(run(netns(clientNs, List.of("redis-cli", "-h", NODE_IP, "-p", "6390", "PING"))).strip())
                .as("a protocol where the client speaks first").isEqualTo("PONG");
        assertThat(run(netns(clientNs, List.of("/usr/bin/python3", "-c", "import socket; s = socket.create_connection(('"
                + NODE_IP + "', 8025), 10); s.settimeout(10); print(s.recv(200).decode())"))))
                .as("a protocol where the server speaks first: its greeting reaches the app").startsWith("220 ");
    }

    @Test
    void underRegistryOnlyDestinationsOutsideTheMeshAreRefusedAndTheMeshStillWorks() throws Exception {
        applyMeshConfig("REGISTRY_ONLY");
        try {
            MeshHarness.await(Duration.ofSeconds(30), "the client's proxy to refuse a destination outside the mesh",
                    () -> !redisAnswers());
            String refused = run(netns(clientNs, List.of("curl", "-sS", "--max-time", "10", "-D", "-",
                    "http://" + NODE_IP + ":9998/hello.txt")));
            assertThat(refused).doesNotContain("hello from a server outside the mesh").containsIgnoringCase("trellis-error:");
            assertThat(run(netns(clientNs, List.of("curl", "-sS", "--max-time", "10", "http://" + BACKEND_IP + ":8080/"))))
                    .contains("hello from the backend's app");
        } finally {
            applyMeshConfig("ALLOW_ANY");
            MeshHarness.await(Duration.ofSeconds(30), "passthrough to come back", this::redisAnswers);
        }
    }

    private boolean redisAnswers() {
        try {
            return run(netns(clientNs, List.of("redis-cli", "-h", NODE_IP, "-p", "6390", "PING"))).strip().equals("PONG");
        } catch (IOException | AssertionError e) {
            return false;
        }
    }

    private void applyMeshConfig(String outboundTrafficPolicy) throws IOException {
        run(netns(nodeNs, List.of("curl", "-sf", "-H", "Authorization: Bearer " + adminToken, "-H",
                "Content-Type: application/yaml", "--data-binary",
                "kind: MeshConfig\nmetadata: {name: default}\nspec: {outboundTrafficPolicy: " + outboundTrafficPolicy + "}\n",
                "http://127.0.0.1:" + API_PORT + "/api/v1/apply")));
    }

    @Test
    void theKubeletsProbeOfTheAppReachesItThroughTheProxyWhereTheRedirectWouldHaveStoppedIt() throws Exception {
        // The probe as injected (the double waited for it before the test), and as it was written: the redirect hands
        // the original to the mTLS port, which a kubelet without a mesh certificate cannot pass.
        assertThat(PodRunner.curlStatus(nodeNs, "http://" + BACKEND_IP + ":15020/app-health/backend/readiness")).isEqualTo(200);
        assertThat(PodRunner.curlStatus(nodeNs, "http://" + BACKEND_IP + ":8080/ready")).isNotEqualTo(200);
        assertThat(PodRunner.curlStatus(nodeNs, "http://" + BACKEND_IP + ":15020/app-health/backend/liveness")).isEqualTo(404);
    }

    @Test
    void aPlainCallToTheBackendPodFromOutsideTheMeshNeverReachesItsApp() throws Exception {
        // From the node, which has no proxy: the redirect hands the connection to the proxy's mTLS port.
        int status = PodRunner.curlStatus(nodeNs, "http://" + BACKEND_IP + ":8080/");
        assertThat(status).as("plain HTTP from outside the mesh").isNotEqualTo(200);
    }

    @Test
    void aPortThePodExcludesIsNotRedirected() throws Exception {
        String answer = run(netns(clientNs, List.of("curl", "-sS", "--max-time", "10", "-D", "-",
                "http://" + BACKEND_IP + ":9999/hello.txt")));
        assertThat(answer).startsWith("HTTP/1.0 200").contains("Server: SimpleHTTP")
                .contains("hello from a server outside the mesh").doesNotContainIgnoringCase("trellis");
    }

    @Test
    void theProxysOwnConnectionsAreNotLoopedBackIntoIt() throws Exception {
        String rules = run(netns(clientNs, List.of("nft", "list", "table", "ip", "trellis")));
        assertThat(rules).contains("meta skuid 1337 return").contains("redirect to :15001");
        // The app's call goes through, so the proxy's own connection onward was not redirected back into it; and the
        // proxy's connection is there, to the backend proxy's mTLS port itself.
        run(netns(clientNs, List.of("curl", "-sf", "--max-time", "10", "-H", "Host: backend", "http://" + BACKEND_IP + ":8080/")));
        assertThat(run(netns(clientNs, List.of("ss", "-tn", "state", "established"))))
                .as("the client's proxy holds a connection to the backend proxy's mTLS port")
                .contains(BACKEND_IP + "]:15006");
    }

    @Test
    void runningTheInitContainerAgainChangesNothing() throws Exception {
        String before = run(netns(clientNs, List.of("nft", "list", "ruleset")));
        String args = Files.readString(mesh.work().resolve("pod-client-0/trellis-init.command"));
        List<String> again = new ArrayList<>(List.of("ip", "netns", "exec", clientNs, dist.resolve("trellis").toString()));
        again.addAll(List.of(args.substring(args.indexOf("init-iptables")).split(" ")));

        String output = run(again);

        assertThat(output).contains("trellis init-iptables: installed (nft)");
        assertThat(run(netns(clientNs, List.of("nft", "list", "ruleset")))).isEqualTo(before);
        assertThat(initOutput.get("client")).contains("installed (nft)").contains("except uid 1337")
                .contains("ports 9999");
    }

    @Test
    void withoutNftTheRedirectIsIptablesRulesThatAlsoReplaceThemselves() throws Exception {
        String scratch = "trellis-scratch-" + id;
        run(List.of("ip", "netns", "add", scratch));
        try {
            List<String> install = netns(scratch, List.of(dist.resolve("trellis").toString(), "init-iptables",
                    "--mode", "iptables", "--exclude-inbound-ports", "15020", "--exclude-outbound-ports", "5432"));
            run(install);
            String once = rules(scratch);
            run(install);

            assertThat(rules(scratch)).isEqualTo(once);
            assertThat(once).containsOnlyOnce("-A OUTPUT -p tcp -j TRELLIS_OUTPUT")
                    .containsOnlyOnce("-A PREROUTING -p tcp -j TRELLIS_INBOUND")
                    .contains("-A TRELLIS_OUTPUT -m owner --uid-owner 1337 -j RETURN")
                    .contains("-A TRELLIS_OUTPUT -p tcp -m tcp --dport 5432 -j RETURN")
                    .contains("-A TRELLIS_INBOUND -p tcp -m tcp --dport 15020 -j RETURN")
                    .contains("-A TRELLIS_INBOUND -p tcp -j REDIRECT --to-ports 15006");
            run(netns(scratch, List.of(dist.resolve("trellis").toString(), "init-iptables", "--remove")));
            assertThat(rules(scratch)).doesNotContain("TRELLIS");
        } finally {
            run(List.of("ip", "netns", "del", scratch));
        }
    }

    @Test
    void aFlagItDoesNotUnderstandIsNamedAndNothingIsInstalled() throws Exception {
        PeerCommand.Output out = PeerCommand.run(Duration.ofSeconds(30), dist.resolve("trellis").toString(), "init-iptables",
                "--exclude-outbound-ports", "5432,all", "--dry-run");
        assertThat(out.exitCode()).isEqualTo(2);
        assertThat(out.text()).contains("--exclude-outbound-ports: 'all' (expected a port number)");
    }

    private static String rules(String ns) throws IOException {
        return run(netns(ns, List.of("iptables-save", "-t", "nat"))).lines()
                .filter(line -> !line.startsWith("#")).collect(java.util.stream.Collectors.joining("\n"));
    }

    private static List<String> netns(String ns, List<String> command) {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        full.addAll(command);
        return full;
    }

    /** Runs a command to its end (at most 120 s) and returns its output; fails on a non-zero exit. */
    private static String run(List<String> command) throws IOException {
        PeerCommand.Output out;
        try {
            out = PeerCommand.run(Duration.ofSeconds(120), command.toArray(String[]::new));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        if (out.exitCode() != 0) {
            throw new AssertionError("exit " + out.exitCode() + ": " + String.join(" ", command) + "\n" + out.text());
        }
        return out.text();
    }

    /**
     * The launcher and the sidecar's build where uid 1337 can read them, outside /tmp (the proxy's container mounts a
     * volume there, which hides the host's): the repository itself when every directory above it lets others in and it
     * is not under /tmp, else a copy of the parts the proxy runs from.
     */
    private static Path readableDistribution() throws IOException {
        Path root = MeshHarness.root();
        boolean readable = !root.startsWith(Path.of("/tmp"));
        for (Path dir = root; dir != null; dir = dir.getParent()) {
            readable &= Files.getPosixFilePermissions(dir).contains(PosixFilePermission.OTHERS_EXECUTE);
        }
        if (readable) {
            return root;
        }
        Path copy = Files.createTempDirectory(Path.of("/var/tmp"), "trellis-dist");
        run(List.of("chmod", "755", copy.toString()));
        run(List.of("mkdir", "-p", copy.resolve("sidecar/target").toString()));
        run(List.of("cp", "-a", root.resolve("trellis").toString(), root.resolve("init").toString(), copy.toString()));
        // The launcher reads the sidecar's JVM options from sidecar/jvm.options and refuses to start without them.
        run(List.of("cp", "-a", root.resolve("sidecar/jvm.options").toString(), copy.resolve("sidecar").toString()));
        run(List.of("sh", "-c", "cp -a '" + root + "'/sidecar/target/*.jar '" + root + "/sidecar/target/lib' '"
                + copy + "/sidecar/target/' && mkdir -p '" + copy + "/sidecar/target/classes' && chmod -R a+rX '" + copy + "'"));
        return copy;
    }
}
