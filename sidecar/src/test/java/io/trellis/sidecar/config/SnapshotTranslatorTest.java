package io.trellis.sidecar.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.trellis.certs.CertificateAuthority;
import io.trellis.certs.Pem;
import io.trellis.certs.SpiffeId;
import io.trellis.mesh.v1.AuthorizationAction;
import io.trellis.mesh.v1.AuthorizationPolicy;
import io.trellis.mesh.v1.AuthorizationRule;
import io.trellis.mesh.v1.Cluster;
import io.trellis.mesh.v1.Endpoint;
import io.trellis.mesh.v1.InboundPolicy;
import io.trellis.mesh.v1.MeshSettings;
import io.trellis.mesh.v1.MtlsMode;
import io.trellis.mesh.v1.RouteMatch;
import io.trellis.mesh.v1.RouteRule;
import io.trellis.mesh.v1.ServiceRoutes;
import io.trellis.mesh.v1.Snapshot;
import io.trellis.mesh.v1.StringMatch;
import io.trellis.mesh.v1.WeightedBackend;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class SnapshotTranslatorTest {
    private static final String ROOT_PEM = Pem.encodeCertificates(List.of(
            CertificateAuthority.generateRoot("cluster.local", Clock.systemUTC()).root()));
    private final SnapshotTranslator translator =
            new SnapshotTranslator(SpiffeId.parse("spiffe://cluster.local/ns/default/sa/web"));

    private static Snapshot.Builder snapshot() {
        return Snapshot.newBuilder().setVersion(7)
                .setMesh(MeshSettings.newBuilder().setTrustDomain("cluster.local").setMtls(MtlsMode.PERMISSIVE)
                        .setCertificateTtlMs(Duration.ofHours(24).toMillis()))
                .addTrustBundlePem(ROOT_PEM)
                .addClusters(Cluster.newBuilder().setService("inventory").setNamespace("default")
                        .addEndpoints(Endpoint.newBuilder().setAddress("127.0.0.2").setPort(15006)
                                .setIdentity("spiffe://cluster.local/ns/default/sa/inventory").putLabels("version", "v2")));
    }

    @Test
    void translatesClustersRoutesAndInboundPolicy() throws Exception {
        RoutingTable table = translator.translate(snapshot()
                .addRoutes(ServiceRoutes.newBuilder().setService("inventory").setNamespace("default")
                        .addRules(RouteRule.newBuilder().setName("canary/0").setTimeoutMs(2000)
                                .setMatch(RouteMatch.newBuilder().setPath(StringMatch.newBuilder().setPrefix("/items"))
                                        .putHeaders("X-Version", StringMatch.newBuilder().setExact("v2").build()))
                                .addBackends(WeightedBackend.newBuilder().putSubset("version", "v2").setWeight(100))))
                .setInbound(InboundPolicy.newBuilder().addAuthorization(AuthorizationPolicy.newBuilder().setName("readers")
                        .setAction(AuthorizationAction.ALLOW).addRules(AuthorizationRule.newBuilder().addFrom("*").addMethods("get"))))
                .build());

        assertThat(table.version()).isEqualTo(7);
        assertThat(table.mesh().mtls()).isEqualTo(io.trellis.sidecar.config.MeshSettings.MtlsMode.PERMISSIVE);
        io.trellis.sidecar.config.Cluster inventory = table.resolve("inventory", "default").orElseThrow();
        assertThat(inventory.endpoints()).singleElement().satisfies(e -> {
            assertThat(e.identity()).hasToString("spiffe://cluster.local/ns/default/sa/inventory");
            assertThat(e.weight()).isEqualTo(1);
        });
        assertThat(inventory.timeouts()).isEqualTo(Timeouts.DEFAULTS);
        io.trellis.sidecar.config.RouteRule rule = table.rulesFor(inventory.name()).get(0);
        assertThat(rule.timeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(rule.headers()).containsKey("x-version");
        assertThat(rule.path().matches("/items/1")).isTrue();
        assertThat(table.inbound().authorization()).singleElement()
                .satisfies(p -> assertThat(p.rules().get(0).methods()).containsExactly("GET"));
    }

    @Test
    void resolvesShortQualifiedAndKubernetesStyleNames() throws Exception {
        RoutingTable table = translator.translate(snapshot().build());

        for (String host : new String[] {"inventory", "inventory.default", "inventory.default.svc",
                "inventory.default.svc.cluster.local", "INVENTORY"}) {
            assertThat(table.resolve(host, "default")).as(host).isPresent();
        }
        assertThat(table.resolve("inventory", "other")).isEmpty();
        assertThat(table.resolve("inventory.other", "default")).isEmpty();
        assertThat(table.rulesFor(new ServiceName("inventory", "default"))).containsExactly(
                io.trellis.sidecar.config.RouteRule.catchAll());
    }

    @Test
    void rejectsASnapshotOfAnotherTrustDomain() {
        Snapshot other = snapshot().setMesh(MeshSettings.newBuilder().setTrustDomain("other.example")).build();

        assertThatThrownBy(() -> translator.translate(other)).isInstanceOf(InvalidSnapshotException.class)
                .hasMessageStartingWith("mesh.trust_domain: other.example (expected cluster.local");
    }

    @Test
    void rejectsAnInvalidRegexNamingTheField() {
        Snapshot bad = snapshot().addRoutes(ServiceRoutes.newBuilder().setService("inventory").setNamespace("default")
                .addRules(RouteRule.newBuilder().setMatch(RouteMatch.newBuilder().setPath(StringMatch.newBuilder().setRegex("/(")))))
                .build();

        assertThatThrownBy(() -> translator.translate(bad)).isInstanceOf(InvalidSnapshotException.class)
                .hasMessageStartingWith("routes[0].rules[0].match.path.regex: /(");
    }

    @Test
    void rejectsAMeshEndpointWithoutAValidIdentity() {
        Snapshot bad = snapshot().addClusters(Cluster.newBuilder().setService("billing").setNamespace("default")
                .addEndpoints(Endpoint.newBuilder().setAddress("127.0.0.9").setPort(15006).setIdentity("billing"))).build();

        assertThatThrownBy(() -> translator.translate(bad)).isInstanceOf(InvalidSnapshotException.class)
                .hasMessageStartingWith("clusters[1].endpoints[0].identity:");
    }

    @Test
    void rejectsASnapshotWithoutTrustedRoots() {
        assertThatThrownBy(() -> translator.translate(snapshot().clearTrustBundlePem().build()))
                .isInstanceOf(InvalidSnapshotException.class).hasMessageContaining("trust_bundle_pem: empty");
    }
}
