package io.trellis.controlplane.push;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.MediaType;
import io.micronaut.http.client.HttpClient;
import io.micronaut.http.client.annotation.Client;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import io.micronaut.test.support.TestPropertyProvider;
import io.trellis.certs.CsrFactory;
import io.trellis.certs.KeyMaterial;
import io.trellis.certs.MeshKeyManager;
import io.trellis.certs.MeshTls;
import io.trellis.certs.MeshTrustManager;
import io.trellis.certs.Pem;
import io.trellis.certs.SpiffeId;
import io.trellis.certs.TrustBundle;
import io.trellis.mesh.v1.Ack;
import io.trellis.mesh.v1.ConfigUpdate;
import io.trellis.mesh.v1.Hello;
import io.trellis.mesh.v1.MeshControlClient;
import io.trellis.mesh.v1.Nack;
import io.trellis.mesh.v1.ProxyMessage;
import io.trellis.mesh.v1.SignRequest;
import io.trellis.mesh.v1.SignResponse;
import io.trellis.mesh.v1.Snapshot;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.SourceQueueWithComplete;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A real Pekko gRPC client over real TLS against a real control plane: enrolment with join tokens,
 * the Connect stream, pushes on policy changes, ACK/NACK bookkeeping and the identity checks.
 */
@MicronautTest
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MeshControlFlowTest implements TestPropertyProvider {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final SpiffeId CONTROL_PLANE = SpiffeId.forWorkload("cluster.local", "trellis-system", "control-plane");
    private final ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "flow-test");
    private Path dataDir;

    @Inject
    @Client("/")
    HttpClient http;

    @Inject
    GrpcServer grpc;

    @Override
    public Map<String, String> getProperties() {
        try {
            dataDir = Files.createTempDirectory("trellis-flow");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return Map.of("micronaut.server.port", "-1", "trellis.grpc-port", "0", "trellis.grpc-host", "127.0.0.1",
                "trellis.data-dir", dataDir.resolve("data").toString());
    }

    @AfterAll
    void stop() {
        system.terminate();
    }

    private String admin() throws IOException {
        return Files.readString(dataDir.resolve("data/admin-token")).strip();
    }

    private String mintToken(String serviceAccount, boolean singleUse) throws IOException {
        String body = http.toBlocking().retrieve(HttpRequest.POST("/api/v1/tokens",
                        "{\"namespace\":\"default\",\"serviceAccount\":\"" + serviceAccount + "\",\"singleUse\":" + singleUse + "}")
                .contentType(MediaType.APPLICATION_JSON).bearerAuth(admin()));
        return JSON.readTree(body).get("token").asText();
    }

    private TrustBundle bundle() throws Exception {
        return TrustBundle.fromPem("cluster.local", http.toBlocking().retrieve("/api/v1/ca/bundle"));
    }

    private MeshControlClient client(MeshKeyManager keys) throws Exception {
        TrustBundle bundle = bundle();
        SSLContext tls = MeshTls.context(keys, MeshTrustManager.expectingServer(() -> bundle, Clock.systemUTC(), CONTROL_PLANE));
        return MeshControlClient.create(GrpcClientSettings.connectToServiceAt("127.0.0.1", grpc.port(), system)
                .withBackend("pekko-http").withSslContext(tls).withTls(true), system);
    }

    /** Enrols as default/{serviceAccount} with a fresh single-use token. */
    private KeyMaterial enrol(String serviceAccount) throws Exception {
        KeyPair keys = CsrFactory.generateKeyPair();
        MeshControlClient anonymous = client(null);
        try {
            SignResponse signed = anonymous.signCertificate(SignRequest.newBuilder()
                    .setCsrDer(ByteString.copyFrom(CsrFactory.createCsr(keys, SpiffeId.forWorkload("cluster.local", "default", serviceAccount))))
                    .setJoinToken(mintToken(serviceAccount, true)).build()).toCompletableFuture().get(20, TimeUnit.SECONDS);
            assertThat(signed.getSpiffeId()).isEqualTo("spiffe://cluster.local/ns/default/sa/" + serviceAccount);
            return new KeyMaterial(keys.getPrivate(), Pem.decodeCertificates(signed.getCertificateChainPem()));
        } finally {
            anonymous.close();
        }
    }

    /** An open Connect stream as a test sees it. */
    private record Stream(MeshControlClient client, SourceQueueWithComplete<ProxyMessage> out,
            BlockingQueue<ConfigUpdate> in, CompletableFuture<Throwable> ended) {
        Snapshot next() throws InterruptedException {
            ConfigUpdate update = in.poll(20, TimeUnit.SECONDS);
            assertThat(update).as("a snapshot within 20 s").isNotNull();
            return update.getSnapshot();
        }

        void send(ProxyMessage message) {
            out.offer(message);
        }

        void close() {
            out.complete();
            client.close();
        }
    }

    private Stream connect(MeshKeyManager keys, Hello hello) throws Exception {
        MeshControlClient client = client(keys);
        Pair<SourceQueueWithComplete<ProxyMessage>, Source<ProxyMessage, org.apache.pekko.NotUsed>> out =
                Source.<ProxyMessage>queue(16, OverflowStrategy.backpressure()).preMaterialize(system);
        BlockingQueue<ConfigUpdate> in = new LinkedBlockingQueue<>();
        CompletableFuture<Throwable> ended = new CompletableFuture<>();
        client.connect(out.second()).runWith(Sink.foreach(in::add), system)
                .whenComplete((done, error) -> ended.complete(error));
        if (hello != null) {
            out.first().offer(ProxyMessage.newBuilder().setHello(hello).build());
        }
        return new Stream(client, out.first(), in, ended);
    }

    private static Hello hello(String node, String service) {
        return Hello.newBuilder().setNodeId(node).setService(service).setNamespace("default").setAddress("127.0.0.7")
                .setInboundPort(15006).putLabels("version", "v1").setProxyVersion("test").build();
    }

    private JsonNode proxy(String nodeId) throws IOException {
        return entry("items", nodeId);
    }

    /** The last entry of {@code list} ({@code items} or {@code refused}) in /api/v1/proxies for {@code nodeId}; or null. */
    private JsonNode entry(String list, String nodeId) throws IOException {
        JsonNode found = null;
        for (JsonNode item : JSON.readTree(http.toBlocking().retrieve(HttpRequest.GET("/api/v1/proxies").bearerAuth(admin()))).get(list)) {
            if (item.get("nodeId").asText().equals(nodeId)) {
                found = item;
            }
        }
        return found;
    }

    private void awaitProxy(String nodeId, String status) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            JsonNode proxy = proxy(nodeId);
            if (status == null ? proxy == null : proxy != null && proxy.get("status").asText().equals(status)) {
                return;
            }
            TimeUnit.MILLISECONDS.sleep(50);
        }
        throw new AssertionError("proxy " + nodeId + " never reached " + status + ": " + proxy(nodeId));
    }

    @Test
    void enrolsConnectsReceivesPushesAndReportsNacks() throws Exception {
        MeshKeyManager keys = new MeshKeyManager(enrol("inventory"));
        Stream stream = connect(keys, hello("inventory-1", "inventory"));
        try {
            Snapshot first = stream.next();
            assertThat(first.getVersion()).isPositive();
            assertThat(first.getMesh().getTrustDomain()).isEqualTo("cluster.local");
            assertThat(first.getTrustBundlePemCount()).isEqualTo(1);
            assertThat(first.getClustersList()).anySatisfy(c -> {
                assertThat(c.getService()).isEqualTo("inventory");
                assertThat(c.getEndpoints(0).getIdentity()).isEqualTo("spiffe://cluster.local/ns/default/sa/inventory");
                assertThat(c.getEndpoints(0).getLabelsMap()).containsEntry("version", "v1");
                assertThat(c.getPolicy().getRetries().getAttempts()).as("default retries").isEqualTo(2);
            });
            stream.send(ProxyMessage.newBuilder().setAck(Ack.newBuilder().setVersion(first.getVersion())).build());
            awaitProxy("inventory-1", "SYNCED");

            long changedAt = System.nanoTime();
            http.toBlocking().exchange(HttpRequest.PUT("/api/v1/trafficpolicies/default/inventory",
                    "kind: TrafficPolicy\nmetadata: {name: inventory}\nspec: {service: inventory, retries: {attempts: 4}}")
                    .contentType("application/yaml").bearerAuth(admin()));
            ConfigUpdate pushed = stream.in().poll(1, TimeUnit.SECONDS);
            assertThat(pushed).as("a new snapshot within 1 s of the policy change").isNotNull();
            assertThat(System.nanoTime() - changedAt).isLessThan(TimeUnit.SECONDS.toNanos(2));
            Snapshot second = pushed.getSnapshot();
            assertThat(second.getVersion()).isGreaterThan(first.getVersion());
            assertThat(second.getClustersList()).anySatisfy(c -> assertThat(c.getPolicy().getRetries().getAttempts()).isEqualTo(4));

            stream.send(ProxyMessage.newBuilder().setNack(Nack.newBuilder().setVersion(second.getVersion())
                    .setError("retries.attempts 4 not supported by this test")).build());
            awaitProxy("inventory-1", "NACKED");
            JsonNode nacked = proxy("inventory-1");
            assertThat(nacked.get("lastNackError").asText()).contains("not supported by this test");
            assertThat(nacked.get("lastAckedVersion").asLong()).isEqualTo(first.getVersion());
            assertThat(nacked.get("identity").asText()).isEqualTo("spiffe://cluster.local/ns/default/sa/inventory");
        } finally {
            stream.close();
        }
        awaitProxy("inventory-1", null);
    }

    @Test
    void anotherProxyJoiningIsPushedToThoseAlreadyConnected() throws Exception {
        Stream orders = connect(new MeshKeyManager(enrol("orders")), hello("orders-1", "orders"));
        try {
            Snapshot first = orders.next();
            Stream payments = connect(new MeshKeyManager(enrol("payments")), hello("payments-1", "payments"));
            try {
                payments.next();
                Snapshot updated = orders.next();
                assertThat(updated.getVersion()).isGreaterThan(first.getVersion());
                assertThat(updated.getClustersList()).anySatisfy(c -> assertThat(c.getService()).isEqualTo("payments"));
            } finally {
                payments.close();
            }
            Snapshot afterLeave = orders.next();
            assertThat(afterLeave.getClustersList()).noneSatisfy(c -> assertThat(c.getService()).isEqualTo("payments"));
        } finally {
            orders.close();
        }
    }

    @Test
    void singleUseTokenWorksOnceAndBadTokensAreRefused() throws Exception {
        String token = mintToken("web", true);
        MeshControlClient anonymous = client(null);
        try {
            SignRequest request = SignRequest.newBuilder().setJoinToken(token)
                    .setCsrDer(ByteString.copyFrom(CsrFactory.createCsr(CsrFactory.generateKeyPair(),
                            SpiffeId.forWorkload("cluster.local", "kube-system", "admin")))).build();
            SignResponse first = anonymous.signCertificate(request).toCompletableFuture().get(20, TimeUnit.SECONDS);
            assertThat(first.getSpiffeId()).as("identity from the token, not the CSR")
                    .isEqualTo("spiffe://cluster.local/ns/default/sa/web");

            assertStatus(() -> anonymous.signCertificate(request), Status.Code.UNAUTHENTICATED, "already used");
            assertStatus(() -> anonymous.signCertificate(request.toBuilder().setJoinToken(token + "x").build()),
                    Status.Code.UNAUTHENTICATED, "not valid");
            assertStatus(() -> anonymous.signCertificate(request.toBuilder().setJoinToken("").build()),
                    Status.Code.UNAUTHENTICATED, "join token or a mesh client certificate");
            String reusable = mintToken("web", false);
            assertStatus(() -> anonymous.signCertificate(request.toBuilder().setJoinToken(reusable)
                    .setCsrDer(ByteString.copyFromUtf8("not a csr")).build()), Status.Code.INVALID_ARGUMENT, "PKCS#10");
        } finally {
            anonymous.close();
        }
    }

    @Test
    void renewsOverMtlsWithoutAToken() throws Exception {
        MeshControlClient client = client(new MeshKeyManager(enrol("renewer")));
        try {
            SignResponse renewed = client.signCertificate(SignRequest.newBuilder().setCsrDer(ByteString.copyFrom(
                    CsrFactory.createCsr(CsrFactory.generateKeyPair(), SpiffeId.forWorkload("cluster.local", "default", "other"))))
                    .build()).toCompletableFuture().get(20, TimeUnit.SECONDS);
            assertThat(renewed.getSpiffeId()).isEqualTo("spiffe://cluster.local/ns/default/sa/renewer");
        } finally {
            client.close();
        }
    }

    @Test
    void connectWithoutClientCertificateIsRefusedEvenWithAForgedIdentityHeader() throws Exception {
        MeshControlClient anonymous = client(null);
        try {
            Source<ProxyMessage, org.apache.pekko.NotUsed> hello = Source.single(ProxyMessage.newBuilder()
                    .setHello(hello("forger-1", "inventory")).build()).concat(Source.never());
            CompletableFuture<?> result = anonymous.connect()
                    .addHeader(PeerIdentity.HEADER, "spiffe://cluster.local/ns/default/sa/inventory")
                    .invoke(hello).runWith(Sink.ignore(), system).toCompletableFuture();
            assertThatThrownBy(() -> result.get(20, TimeUnit.SECONDS))
                    .hasRootCauseInstanceOf(StatusRuntimeException.class)
                    .rootCause().hasMessageContaining("UNAUTHENTICATED");
            assertThat(proxy("forger-1")).isNull();
        } finally {
            anonymous.close();
        }
    }

    @Test
    void helloForAnotherNamespaceThanTheCertificateIsRejected() throws Exception {
        Stream stream = connect(new MeshKeyManager(enrol("liar")), hello("liar-1", "liar").toBuilder()
                .setNamespace("kube-system").build());
        try {
            Throwable error = stream.ended().get(20, TimeUnit.SECONDS);
            assertThat(error).isInstanceOf(StatusRuntimeException.class).hasMessageContaining("INVALID_ARGUMENT")
                    .hasMessageContaining("hello.namespace");
        } finally {
            stream.close();
        }
    }

    @Test
    void aProxyMayNotRegisterAsAServiceItsIdentityDoesNotServe() throws Exception {
        // Issue 12, item 4: any mesh identity announcing itself as another service got that service's traffic.
        Stream stream = connect(new MeshKeyManager(enrol("mallory")), hello("mallory-1", "vault"));
        try {
            Throwable error = stream.ended().get(20, TimeUnit.SECONDS);
            assertThat(error).isInstanceOf(StatusRuntimeException.class).hasMessageContaining("PERMISSION_DENIED")
                    .hasMessageContaining("hello.service").hasMessageContaining("may not serve 'vault'");
        } finally {
            stream.close();
        }
        assertThat(proxy("mallory-1")).as("never listed as an endpoint").isNull();
        JsonNode refused = refusal("mallory-1");
        assertThat(refused.get("identity").asText()).isEqualTo("spiffe://cluster.local/ns/default/sa/mallory");
        assertThat(refused.get("service").asText()).isEqualTo("vault");
        assertThat(refused.get("peerAddress").asText()).isEqualTo("127.0.0.1");
    }

    @Test
    void aServiceBindingLetsAnotherServiceAccountServeTheService() throws Exception {
        String binding = """
                kind: ServiceBinding
                metadata: {name: vault-canary, namespace: default}
                spec: {service: vault, serviceAccounts: [vault-canary]}
                """;
        http.toBlocking().exchange(HttpRequest.POST("/api/v1/apply", binding).contentType("application/yaml").bearerAuth(admin()));

        Stream stream = connect(new MeshKeyManager(enrol("vault-canary")), hello("vault-canary-1", "vault"));
        try {
            Snapshot first = stream.next();
            stream.send(ProxyMessage.newBuilder().setAck(Ack.newBuilder().setVersion(first.getVersion())).build());
            awaitProxy("vault-canary-1", "SYNCED");
            assertThat(proxy("vault-canary-1").get("service").asText()).isEqualTo("vault");
        } finally {
            stream.close();
            http.toBlocking().exchange(HttpRequest.DELETE("/api/v1/servicebindings/default/vault-canary").bearerAuth(admin()));
        }
    }

    @Test
    void anAnnouncedAddressThatIsNotWhereTheProxyConnectsFromIsRefused() throws Exception {
        Stream stream = connect(new MeshKeyManager(enrol("ledger")), hello("ledger-1", "ledger").toBuilder()
                .setAddress("10.9.8.7").build());
        try {
            Throwable error = stream.ended().get(20, TimeUnit.SECONDS);
            assertThat(error).isInstanceOf(StatusRuntimeException.class).hasMessageContaining("PERMISSION_DENIED")
                    .hasMessageContaining("hello.address: '10.9.8.7' is not the address this connection comes from (127.0.0.1)");
        } finally {
            stream.close();
        }
        assertThat(proxy("ledger-1")).isNull();
        assertThat(refusal("ledger-1").get("reason").asText()).contains("hello.address");
    }

    private JsonNode refusal(String nodeId) throws IOException {
        JsonNode found = entry("refused", nodeId);
        assertThat(found).as("refused registration of " + nodeId + " in /api/v1/proxies").isNotNull();
        return found;
    }

    private static void assertStatus(java.util.function.Supplier<java.util.concurrent.CompletionStage<?>> call,
            Status.Code code, String message) {
        assertThatThrownBy(() -> call.get().toCompletableFuture().get(20, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(StatusRuntimeException.class)
                .satisfies(e -> assertThat(((StatusRuntimeException) e).getStatus().getCode()).isEqualTo(code))
                .hasMessageContaining(message);
    }
}
