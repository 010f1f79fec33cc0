package io.trellis.controlplane.compile;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.certs.CertificateAuthority;
import io.trellis.certs.SpiffeId;
import io.trellis.certs.TrustBundle;
import io.trellis.controlplane.registry.ClusterServices;
import io.trellis.controlplane.registry.ProxyInstance;
import io.trellis.controlplane.resource.ExternalServiceSpec;
import io.trellis.controlplane.resource.ResourceCodec;
import io.trellis.controlplane.store.Change;
import io.trellis.controlplane.store.MeshState;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SnapshotCompilerTest {
    private final ResourceCodec codec = new ResourceCodec();
    private final TrustBundle bundle = new TrustBundle("cluster.local",
            List.of(CertificateAuthority.generateRoot("cluster.local", Clock.systemUTC()).certificate()));
    private final ProxyInstance web = instance("web-1", "web", "10.0.0.1", Map.of());
    private final ProxyInstance inventoryV1 = instance("inv-1", "inventory", "10.0.0.2", Map.of("version", "v1"));
    private final ProxyInstance inventoryV2 = instance("inv-2", "inventory", "10.0.0.3", Map.of("version", "v2"));

    private static ProxyInstance instance(String node, String service, String address, Map<String, String> labels) {
        return new ProxyInstance(node, service, "default", SpiffeId.forWorkload("cluster.local", "default", service),
                address, 15006, 15008, labels, "test", Instant.EPOCH);
    }

    private MeshState state(String yaml) {
        MeshState state = MeshState.EMPTY;
        if (!yaml.isBlank()) {
            state = state.apply(1, Instant.EPOCH, new Change.PutResources(
                    codec.decodeAll(yaml.getBytes(StandardCharsets.UTF_8), ResourceCodec.Format.YAML)));
        }
        return state;
    }

    @Test
    void withoutPoliciesEveryServiceGetsTheDesignDefaults() {
        ProxySnapshot snapshot = SnapshotCompiler.compile(state(""), List.of(web, inventoryV1, inventoryV2), bundle, web);

        assertThat(snapshot.mesh().trustDomain()).isEqualTo("cluster.local");
        assertThat(snapshot.trustBundlePem()).hasSize(1);
        assertThat(snapshot.clusters()).extracting(ProxySnapshot.Cluster::service).containsExactly("inventory", "web");
        ProxySnapshot.Cluster inventory = snapshot.clusters().get(0);
        assertThat(inventory.endpoints()).extracting(ProxySnapshot.Endpoint::address).containsExactly("10.0.0.2", "10.0.0.3");
        assertThat(inventory.endpoints().get(1).identity()).isEqualTo("spiffe://cluster.local/ns/default/sa/inventory");
        assertThat(inventory.endpoints().get(1).labels()).containsEntry("version", "v2");
        assertThat(inventory.policy().timeouts().request().toSeconds()).isEqualTo(15);
        assertThat(inventory.policy().retries().attempts()).isEqualTo(2);
        assertThat(inventory.policy().retries().budget().ratio()).isEqualTo(0.2);
        assertThat(snapshot.routes()).isEmpty();
        assertThat(snapshot.inbound().authorization()).isEmpty();
        assertThat(snapshot.inbound().rateLimit()).isNull();
    }

    @Test
    void appliesPoliciesToTheRightServicesAndInboundOnlyToTheProxysOwn() {
        MeshState state = state("""
                kind: TrafficPolicy
                metadata: {name: inventory}
                spec: {service: inventory, retries: {attempts: 5}, rateLimit: {requestsPerSecond: 50}}
                ---
                kind: Route
                metadata: {name: b-canary}
                spec: {service: inventory, rules: [{backends: [{subset: {version: v2}, weight: 10}, {subset: {version: v1}, weight: 90}]}]}
                ---
                kind: Route
                metadata: {name: a-header}
                spec: {service: inventory, rules: [{match: {headers: {x-v: {exact: "2"}}}, backends: [{subset: {version: v2}}]}]}
                ---
                kind: AuthorizationPolicy
                metadata: {name: inventory-readers}
                spec: {service: inventory, rules: [{from: ["spiffe://cluster.local/ns/default/sa/web"], to: {methods: [GET]}}]}
                ---
                kind: Subscription
                metadata: {name: inv-orders}
                spec: {service: inventory, topics: [orders], path: /events}
                ---
                kind: ExternalService
                metadata: {name: payments}
                spec: {service: payments, endpoints: [{address: 127.0.0.1, port: 8443}]}
                """);
        List<ProxyInstance> all = List.of(web, inventoryV1, inventoryV2);
        ProxySnapshot forWeb = SnapshotCompiler.compile(state, all, bundle, web);
        ProxySnapshot forInventory = SnapshotCompiler.compile(state, all, bundle, inventoryV1);

        assertThat(forWeb.clusters()).extracting(ProxySnapshot.Cluster::service).containsExactly("inventory", "payments", "web");
        assertThat(forWeb.clusters().get(0).policy().retries().attempts()).isEqualTo(5);
        assertThat(forWeb.clusters().get(1).external()).isTrue();
        assertThat(forWeb.clusters().get(1).endpoints().get(0).identity()).isNull();
        assertThat(forWeb.routes()).hasSize(1);
        assertThat(forWeb.routes().get(0).rules()).extracting(ProxySnapshot.NamedRule::name)
                .as("routes concatenated in resource-name order").containsExactly("a-header/0", "b-canary/0");
        assertThat(forWeb.inbound().authorization()).isEmpty();
        assertThat(forWeb.subscriptions()).isEmpty();

        assertThat(forInventory.inbound().authorization()).extracting(ProxySnapshot.NamedAuthorization::name)
                .containsExactly("inventory-readers");
        assertThat(forInventory.inbound().rateLimit().requestsPerSecond()).isEqualTo(50.0);
        assertThat(forInventory.inbound().rateLimit().burst()).isEqualTo(50);
        assertThat(forInventory.subscriptions()).hasSize(1);
        assertThat(forInventory.subscriptions().get(0).spec().deadLetterTopicFor("orders")).isEqualTo("orders.dlq");
    }

    @Test
    void declaredTcpPortsReachCallersAndTheServicesOwnSidecarWithEachEndpointsTunnelPort() {
        MeshState state = state("""
                kind: TrafficPolicy
                metadata: {name: inventory}
                spec: {service: inventory, ports: [{port: 6379, protocol: TCP}, {port: 5432, protocol: TCP}]}
                """);
        List<ProxyInstance> all = List.of(web, inventoryV1, inventoryV2);

        ProxySnapshot forWeb = SnapshotCompiler.compile(state, all, bundle, web);
        ProxySnapshot forInventory = SnapshotCompiler.compile(state, all, bundle, inventoryV1);

        assertThat(forWeb.clusters().get(0).policy().tcpPorts()).containsExactly(6379, 5432);
        assertThat(forWeb.clusters().get(0).endpoints()).extracting(ProxySnapshot.Endpoint::tunnelPort).containsOnly(15008);
        assertThat(forWeb.inbound().tcpPorts()).as("web declares none").isEmpty();
        assertThat(forInventory.inbound().tcpPorts()).containsExactly(6379, 5432);
    }

    @Test
    void aServicesClusterIpsGoToTheMeshServiceOfTheSameNameOnly() {
        ProxySnapshot snapshot = SnapshotCompiler.compile(state(""), List.of(web, inventoryV1),
                Map.of("default/inventory", new ClusterServices.Service(List.of("10.96.0.12"), List.of()),
                        "other/inventory", new ClusterServices.Service(List.of("10.96.9.9"), List.of()),
                        "default/kube-dns", new ClusterServices.Service(List.of("10.96.0.10"), List.of())), bundle, web);

        assertThat(snapshot.clusters()).filteredOn(c -> c.service().equals("inventory")).singleElement()
                .satisfies(c -> assertThat(c.virtualAddresses()).containsExactly("10.96.0.12"));
        assertThat(snapshot.clusters()).filteredOn(c -> c.service().equals("web")).singleElement()
                .satisfies(c -> assertThat(c.virtualAddresses()).isEmpty());
        assertThat(snapshot.clusters()).extracting(ProxySnapshot.Cluster::service).doesNotContain("kube-dns");
    }

    @Test
    void aKubernetesServiceNoSidecarServesIsItsReadyPodsInPlaintextAfterTheMeshAndExternalServices() {
        MeshState state = state("""
                kind: ExternalService
                metadata: {name: payments}
                spec: {service: payments, endpoints: [{address: 192.0.2.10, port: 443}]}
                """);
        ClusterServices.Address podA = new ClusterServices.Address("10.1.0.7", 8080);
        ProxySnapshot snapshot = SnapshotCompiler.compile(state, List.of(web, inventoryV1), Map.of(
                "default/legacy", new ClusterServices.Service(List.of("10.96.0.30"), List.of(podA,
                        new ClusterServices.Address(inventoryV1.address(), 8080))),
                "default/inventory", new ClusterServices.Service(List.of(), List.of(podA)),
                "default/payments", new ClusterServices.Service(List.of(), List.of(podA)),
                "default/empty", new ClusterServices.Service(List.of("10.96.0.31"), List.of())), bundle, web);

        ProxySnapshot.Cluster legacy = snapshot.clusters().stream().filter(c -> c.service().equals("legacy")).findFirst().orElseThrow();
        assertThat(legacy.external()).isTrue();
        assertThat(legacy.externalTls().mode()).isEqualTo(ExternalServiceSpec.TlsMode.DISABLE);
        assertThat(legacy.endpoints()).as("never a sidecar's address in plaintext").extracting(ProxySnapshot.Endpoint::address)
                .containsExactly("10.1.0.7");
        assertThat(legacy.virtualAddresses()).containsExactly("10.96.0.30");
        assertThat(snapshot.clusters()).filteredOn(c -> c.service().equals("inventory")).singleElement()
                .satisfies(c -> assertThat(c.external()).as("the sidecars win").isFalse());
        assertThat(snapshot.clusters()).filteredOn(c -> c.service().equals("payments")).singleElement()
                .satisfies(c -> assertThat(c.endpoints().get(0).address()).as("the ExternalService wins").isEqualTo("192.0.2.10"));
        assertThat(snapshot.clusters()).extracting(ProxySnapshot.Cluster::service).doesNotContain("empty");
    }

    @Test
    void sameInputsCompileToEqualSnapshotsSoNothingIsPushedTwice() {
        MeshState state = state("kind: Route\nmetadata: {name: r}\nspec: {service: inventory, rules: [{}]}");
        assertThat(SnapshotCompiler.compile(state, List.of(web, inventoryV1), bundle, web))
                .isEqualTo(SnapshotCompiler.compile(state, List.of(inventoryV1, web), bundle, web));
    }

    @Test
    void meshServiceWinsOverAnExternalServiceOfTheSameName() {
        MeshState state = state("kind: ExternalService\nmetadata: {name: inv}\n"
                + "spec: {service: inventory, endpoints: [{address: example.com, port: 443}]}");
        ProxySnapshot snapshot = SnapshotCompiler.compile(state, List.of(web, inventoryV1), bundle, web);
        assertThat(snapshot.clusters()).filteredOn(c -> c.service().equals("inventory")).singleElement()
                .satisfies(c -> assertThat(c.external()).isFalse());
    }

    @Test
    void topicPoliciesCompileToWhatEachProxyMayPublish() {
        MeshState state = state("""
                kind: TopicPolicy
                metadata: {name: payments-writers, namespace: billing}
                spec: {topics: ["payments.*"], publishers: ["spiffe://cluster.local/ns/default/sa/web"]}
                ---
                kind: TopicPolicy
                metadata: {name: audit-writers, namespace: default}
                spec: {topics: [audit], publishers: ["spiffe://cluster.local/ns/default/*"]}
                """);
        ProxySnapshot.Publish forWeb = SnapshotCompiler.compile(state, List.of(web, inventoryV1), bundle, web).publish();
        ProxySnapshot.Publish forInventory = SnapshotCompiler.compile(state, List.of(web, inventoryV1), bundle, inventoryV1).publish();

        assertThat(forWeb.restricted()).containsExactly("audit", "payments.*");
        assertThat(forWeb.allowed()).containsExactly("audit", "payments.*");
        assertThat(forInventory.restricted()).containsExactly("audit", "payments.*");
        assertThat(forInventory.allowed()).as("a subtree wildcard covers inventory; the exact ID does not").containsExactly("audit");
        assertThat(SnapshotCompiler.compile(state(""), List.of(web), bundle, web).publish().restricted()).isEmpty();
    }
}
