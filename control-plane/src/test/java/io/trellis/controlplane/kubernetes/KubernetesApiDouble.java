package io.trellis.controlplane.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.trellis.certs.CertificateAuthority;
import io.trellis.certs.IssuedCertificate;
import io.trellis.certs.Pem;
import io.trellis.certs.SpiffeId;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * A double of the Kubernetes API server's TokenReview endpoint, for what cannot run here, built to the documented
 * wire API ({@code POST /apis/authentication.k8s.io/v1/tokenreviews}, authentication.k8s.io/v1): HTTPS with its own
 * CA, the caller authenticated by its bearer token (401 and a {@code Status} otherwise), the review answered 201 with
 * the TokenReview and its {@code status}: {@code authenticated}, {@code user} ({@code system:serviceaccount:NS:SA}),
 * {@code audiences}, or {@code error} with the API server's wording for a token that is unknown, expired, for other
 * audiences or of a deleted service account. Tokens are JWT-shaped and known by the double (the real server checks
 * their signature). Services and EndpointSlices are listed ({@code GET /api/v1/services},
 * {@code /apis/discovery.k8s.io/v1/endpointslices}: a list with its {@code resourceVersion}) and watched ({@code ?watch=1&resourceVersion=V}: ADDED, MODIFIED, DELETED and BOOKMARK events as JSON lines, until
 * {@code timeoutSeconds}; an ERROR event with a 410 Status when V is older than what the double keeps, after
 * {@link #compact}). Also runnable as a process: {@code main(ADDRESS PORT DIR [NS/SA=TOKENFILE | svc:NS/NAME=CLUSTERIP[@ENDPOINT:PORT]...])}
 * writes {@code DIR/ca.crt} and {@code DIR/token} (the caller's credentials) and each token file, then serves until
 * killed.
 */
public final class KubernetesApiDouble implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A token the double issued. */
    private record Issued(String namespace, String serviceAccount, Set<String> audiences, Instant expiresAt) {
    }

    private final HttpsServer server;
    private final X509Certificate ca;
    private final String callerToken;
    private final Map<String, Issued> tokens = new ConcurrentHashMap<>();
    private final Set<String> deleted = ConcurrentHashMap.newKeySet();
    private final AtomicInteger reviews = new AtomicInteger();
    private static final String SERVICES = "/api/v1/services";
    private static final String SLICES = "/apis/discovery.k8s.io/v1/endpointslices";

    /** A change of an object at {@code path}, at its resourceVersion. */
    private record Event(String path, long version, String type, JsonNode object) {
    }

    /** Objects by collection path, then namespace/name. */
    private final Map<String, Map<String, JsonNode>> objects = Map.of(SERVICES, new java.util.TreeMap<>(),
            SLICES, new java.util.TreeMap<>());
    private final List<Event> events = new ArrayList<>();
    private long version = 100;
    private long oldestKept = 100;
    private final SecureRandom random = new SecureRandom();

    private KubernetesApiDouble(HttpsServer server, X509Certificate ca) {
        this.server = server;
        this.ca = ca;
        this.callerToken = jwt("system:serviceaccount:trellis-system:trellis-control-plane", "https://kubernetes.default.svc");
        server.createContext("/apis/authentication.k8s.io/v1/tokenreviews", this::review);
        server.createContext(SERVICES, exchange -> collection(exchange, SERVICES, "ServiceList"));
        server.createContext(SLICES, exchange -> collection(exchange, SLICES, "EndpointSliceList"));
        server.createContext("/", exchange -> status(exchange, 404, "NotFound", "the server could not find the requested resource"));
        server.start();
    }

    /** Serves on {@code address:port} (0 = any free port) with a certificate for that address. */
    public static KubernetesApiDouble start(String address, int port) throws Exception {
        CertificateAuthority authority = CertificateAuthority.generateRoot("kubernetes.test", Clock.systemUTC());
        KeyPair key = KeyPairGenerator.getInstance("EC").generateKeyPair();
        IssuedCertificate serving = authority.issueServer(key.getPublic(),
                SpiffeId.parse("spiffe://kubernetes.test/ns/default/sa/kubernetes"), List.of("kubernetes.default.svc"),
                List.of(InetAddress.getByName(address)), Duration.ofDays(1));
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setKeyEntry("serving", key.getPrivate(), new char[0], serving.chain().toArray(X509Certificate[]::new));
        KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keys.init(store, new char[0]);
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(keys.getKeyManagers(), null, null);
        HttpsServer server = HttpsServer.create(new InetSocketAddress(address, port), 16);
        server.setHttpsConfigurator(new HttpsConfigurator(tls));
        // Watches hold their exchange open: each request gets a thread.
        server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool(runnable -> {
            Thread thread = new Thread(runnable, "kubernetes-api-double");
            thread.setDaemon(true);
            return thread;
        }));
        return new KubernetesApiDouble(server, authority.root());
    }

    public static void main(String[] args) throws Exception {
        KubernetesApiDouble api = start(args[0], Integer.parseInt(args[1]));
        Path dir = Path.of(args[2]);
        api.writeCredentials(dir);
        for (int i = 3; i < args.length; i++) {
            if (args[i].startsWith("svc:")) {
                // svc:NS/NAME=CLUSTERIP[@ENDPOINT:PORT]: a Service, and an EndpointSlice of one ready endpoint.
                String[] name = args[i].substring(4, args[i].indexOf('=')).split("/");
                String[] value = args[i].substring(args[i].indexOf('=') + 1).split("@");
                api.service(name[0], name[1], value[0]);
                if (value.length > 1) {
                    String[] endpoint = value[1].split(":");
                    api.endpointSlice(name[0], name[1], Integer.parseInt(endpoint[1]), true, endpoint[0]);
                }
                continue;
            }
            String[] account = args[i].substring(0, args[i].indexOf('=')).split("/");
            Files.writeString(Path.of(args[i].substring(args[i].indexOf('=') + 1)),
                    api.issue(account[0], account[1], "trellis", Instant.now().plus(Duration.ofHours(1))));
        }
        Files.writeString(dir.resolve("ready"), api.url().toString());
        Thread.currentThread().join();
    }

    /** The base URL. */
    public URI url() {
        InetSocketAddress bound = server.getAddress();
        return URI.create("https://" + bound.getAddress().getHostAddress() + ":" + bound.getPort());
    }

    /** Writes {@code ca.crt} (the serving CA) and {@code token} (what a caller authenticates with) into {@code dir}. */
    public void writeCredentials(Path dir) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("ca.crt"), Pem.encodeCertificates(List.of(ca)));
        Files.writeString(dir.resolve("token"), callerToken);
    }

    /** A service-account token for {@code namespace/serviceAccount}, as the kubelet projects it. */
    public String issue(String namespace, String serviceAccount, String audience, Instant expiresAt) {
        String token = jwt("system:serviceaccount:" + namespace + ":" + serviceAccount, audience);
        tokens.put(token, new Issued(namespace, serviceAccount, Set.of(audience), expiresAt));
        return token;
    }

    /** The service account is deleted: its tokens no longer authenticate. */
    public void delete(String namespace, String serviceAccount) {
        deleted.add(namespace + "/" + serviceAccount);
    }

    /** Creates or changes the Service {@code namespace/name} with {@code clusterIp} ("None": headless). */
    public synchronized void service(String namespace, String name, String clusterIp) {
        ObjectNode service = JSON.createObjectNode().put("kind", "Service").put("apiVersion", "v1");
        service.putObject("metadata").put("name", name).put("namespace", namespace);
        ObjectNode spec = service.putObject("spec").put("type", "ClusterIP").put("clusterIP", clusterIp);
        spec.putArray("clusterIPs").add(clusterIp);
        spec.putArray("ports").addObject().put("name", "http").put("port", 80).put("protocol", "TCP").put("targetPort", 8080);
        put(SERVICES, service);
    }

    /** Deletes the Service {@code namespace/name}. */
    public synchronized void deleteService(String namespace, String name) {
        delete(SERVICES, namespace, name);
    }

    /**
     * Creates or changes the EndpointSlice {@code service-1} of {@code namespace/service}: one endpoint per address,
     * at {@code port} (named http), ready or not.
     */
    public synchronized void endpointSlice(String namespace, String service, int port, boolean ready, String... addresses) {
        ObjectNode slice = JSON.createObjectNode().put("kind", "EndpointSlice").put("apiVersion", "discovery.k8s.io/v1")
                .put("addressType", "IPv4");
        slice.putObject("metadata").put("name", service + "-1").put("namespace", namespace)
                .putObject("labels").put("kubernetes.io/service-name", service);
        var endpoints = slice.putArray("endpoints");
        for (String address : addresses) {
            ObjectNode endpoint = endpoints.addObject();
            endpoint.putArray("addresses").add(address);
            endpoint.putObject("conditions").put("ready", ready).put("serving", ready).put("terminating", false);
        }
        slice.putArray("ports").addObject().put("name", "http").put("port", port).put("protocol", "TCP");
        put(SLICES, slice);
    }

    /** Deletes the EndpointSlice of {@code namespace/service}. */
    public synchronized void deleteEndpointSlice(String namespace, String service) {
        delete(SLICES, namespace, service + "-1");
    }

    private void put(String path, ObjectNode object) {
        version++;
        ObjectNode metadata = (ObjectNode) object.path("metadata");
        metadata.put("resourceVersion", Long.toString(version));
        String key = metadata.path("namespace").asText() + "/" + metadata.path("name").asText();
        String type = objects.get(path).put(key, object) == null ? "ADDED" : "MODIFIED";
        events.add(new Event(path, version, type, object));
        notifyAll();
    }

    private void delete(String path, String namespace, String name) {
        JsonNode gone = objects.get(path).remove(namespace + "/" + name);
        if (gone != null) {
            version++;
            ObjectNode object = gone.deepCopy();
            ((ObjectNode) object.path("metadata")).put("resourceVersion", Long.toString(version));
            events.add(new Event(path, version, "DELETED", object));
            notifyAll();
        }
    }

    /** Forgets the change history, as etcd's compaction does: a watch from an older version gets 410 Gone. */
    public synchronized void compact() {
        events.clear();
        oldestKept = version;
        notifyAll();
    }

    private void collection(HttpExchange exchange, String path, String listKind) throws IOException {
        String authorization = exchange.getRequestHeaders().getFirst("Authorization");
        if (authorization == null || !authorization.equals("Bearer " + callerToken)) {
            status(exchange, 401, "Unauthorized", "Unauthorized");
            return;
        }
        Map<String, String> query = new java.util.HashMap<>();
        String raw = exchange.getRequestURI().getRawQuery();
        if (raw != null) {
            for (String pair : raw.split("&")) {
                int eq = pair.indexOf('=');
                query.put(eq < 0 ? pair : pair.substring(0, eq), eq < 0 ? "" : pair.substring(eq + 1));
            }
        }
        if (!"1".equals(query.get("watch")) && !"true".equals(query.get("watch"))) {
            ObjectNode list = JSON.createObjectNode().put("kind", listKind)
                    .put("apiVersion", path.equals(SERVICES) ? "v1" : "discovery.k8s.io/v1");
            synchronized (this) {
                list.putObject("metadata").put("resourceVersion", Long.toString(version));
                var items = list.putArray("items");
                objects.get(path).values().forEach(items::add);
            }
            send(exchange, 200, list);
            return;
        }
        long from = Long.parseLong(query.getOrDefault("resourceVersion", "0"));
        long until = System.nanoTime() + Long.parseLong(query.getOrDefault("timeoutSeconds", "300")) * 1_000_000_000L;
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(200, 0);
        try (var out = exchange.getResponseBody()) {
            long seen = from;
            while (System.nanoTime() < until) {
                List<Event> next = new ArrayList<>();
                boolean gone;
                synchronized (this) {
                    gone = seen < oldestKept;
                    if (!gone) {
                        for (Event event : events) {
                            if (event.version() > seen && event.path().equals(path)) {
                                next.add(event);
                            }
                        }
                        if (next.isEmpty()) {
                            wait(Math.max(1, Math.min(1000, (until - System.nanoTime()) / 1_000_000)));
                        }
                    }
                }
                if (gone) {
                    ObjectNode error = JSON.createObjectNode().put("type", "ERROR");
                    error.putObject("object").put("kind", "Status").put("apiVersion", "v1").put("status", "Failure")
                            .put("message", "too old resource version: " + seen + " (" + oldestKept + ")")
                            .put("reason", "Expired").put("code", 410);
                    out.write((JSON.writeValueAsString(error) + "\n").getBytes(StandardCharsets.UTF_8));
                    return;
                }
                for (Event event : next) {
                    ObjectNode line = JSON.createObjectNode().put("type", event.type());
                    line.set("object", event.object());
                    out.write((JSON.writeValueAsString(line) + "\n").getBytes(StandardCharsets.UTF_8));
                    seen = event.version();
                }
                out.flush();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException closed) {
            // the watcher went away
        }
        exchange.close();
    }

    /** How many reviews were answered. */
    public int reviews() {
        return reviews.get();
    }

    private void review(HttpExchange exchange) throws IOException {
        if (!exchange.getRequestMethod().equals("POST")) {
            status(exchange, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
            return;
        }
        String authorization = exchange.getRequestHeaders().getFirst("Authorization");
        if (authorization == null || !authorization.equals("Bearer " + callerToken)) {
            status(exchange, 401, "Unauthorized", "Unauthorized");
            return;
        }
        JsonNode review;
        try {
            review = JSON.readTree(exchange.getRequestBody());
        } catch (IOException e) {
            status(exchange, 400, "BadRequest", "the body of the request was in an unknown format");
            return;
        }
        if (!review.path("apiVersion").asText().equals("authentication.k8s.io/v1") || !review.path("kind").asText().equals("TokenReview")
                || !review.path("spec").path("token").isTextual()) {
            status(exchange, 400, "BadRequest", "TokenReview in version \"v1\" cannot be handled");
            return;
        }
        reviews.incrementAndGet();
        String token = review.path("spec").path("token").asText();
        List<String> wanted = new ArrayList<>();
        review.path("spec").path("audiences").forEach(a -> wanted.add(a.asText()));
        ObjectNode answer = JSON.createObjectNode().put("kind", "TokenReview").put("apiVersion", "authentication.k8s.io/v1");
        answer.putObject("metadata").put("creationTimestamp", (String) null);
        answer.set("spec", review.path("spec"));
        ObjectNode status = answer.putObject("status");
        status.putObject("user");
        Issued issued = tokens.get(token);
        if (issued == null) {
            status.put("error", "[invalid bearer token, square/go-jose: error in cryptographic primitive]");
        } else if (!Instant.now().isBefore(issued.expiresAt())) {
            status.put("error", "[invalid bearer token, token has expired]");
        } else if (!wanted.isEmpty() && wanted.stream().noneMatch(issued.audiences()::contains)) {
            status.put("error", "[invalid bearer token, token audiences " + JSON.writeValueAsString(issued.audiences())
                    + " is invalid for the target audiences " + JSON.writeValueAsString(wanted) + "]");
        } else if (deleted.contains(issued.namespace() + "/" + issued.serviceAccount())) {
            status.put("error", "[invalid bearer token, service account " + issued.namespace() + "/" + issued.serviceAccount()
                    + " has been deleted]");
        } else {
            status.put("authenticated", true);
            ObjectNode user = status.putObject("user")
                    .put("username", "system:serviceaccount:" + issued.namespace() + ":" + issued.serviceAccount())
                    .put("uid", java.util.UUID.nameUUIDFromBytes((issued.namespace() + "/" + issued.serviceAccount())
                            .getBytes(StandardCharsets.UTF_8)).toString());
            user.putArray("groups").add("system:serviceaccounts").add("system:serviceaccounts:" + issued.namespace())
                    .add("system:authenticated");
            var audiences = status.putArray("audiences");
            (wanted.isEmpty() ? List.copyOf(issued.audiences()) : wanted).forEach(audiences::add);
        }
        send(exchange, 201, answer);
    }

    private static void status(HttpExchange exchange, int code, String reason, String message) throws IOException {
        ObjectNode status = JSON.createObjectNode().put("kind", "Status").put("apiVersion", "v1");
        status.putObject("metadata");
        status.put("status", "Failure").put("message", message).put("reason", reason).put("code", code);
        send(exchange, code, status);
    }

    private static void send(HttpExchange exchange, int code, JsonNode body) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(body);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(code, bytes.length);
        exchange.getResponseBody().write(bytes);
        exchange.close();
    }

    private String jwt(String subject, String audience) {
        Base64.Encoder url = Base64.getUrlEncoder().withoutPadding();
        byte[] signature = new byte[64];
        random.nextBytes(signature);
        String header = url.encodeToString("{\"alg\":\"RS256\",\"kid\":\"double\"}".getBytes(StandardCharsets.UTF_8));
        String payload = url.encodeToString(("{\"aud\":[\"" + audience + "\"],\"iss\":\"https://kubernetes.default.svc\",\"sub\":\""
                + subject + "\"}").getBytes(StandardCharsets.UTF_8));
        return header + "." + payload + "." + url.encodeToString(signature);
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
