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
    void translatesEveryPolicyFieldAndDefaultsTheUnsetOnes() throws Exception {
        Snapshot.Builder builder = snapshot();
        builder.getClustersBuilder(0).setPolicy(io.trellis.mesh.v1.ClusterPolicy.newBuilder()
                .setRetries(io.trellis.mesh.v1.RetryPolicy.newBuilder().setAttempts(3).setPerTryTimeoutMs(500)
                        .addRetryOn("503").addRetryOn("unavailable")
                        .setBackoff(io.trellis.mesh.v1.Backoff.newBuilder().setBaseMs(10).setMaxMs(100))
                        .setBudget(io.trellis.mesh.v1.RetryBudget.newBuilder().setRatio(0.1).setMinPerSecond(5))
                        .setRetryNonIdempotent(true).setMaxBufferedBodyBytes(1024))
                .setConnectionLimits(io.trellis.mesh.v1.ConnectionLimits.newBuilder().setMaxConnections(2)
                        .setMaxPendingRequests(0).setMaxRequests(7))
                .setLoadBalancer(io.trellis.mesh.v1.LoadBalancer.EWMA));
        builder.addRoutes(ServiceRoutes.newBuilder().setService("inventory").setNamespace("default")
                .addRules(RouteRule.newBuilder().setName("chaos/0")
                        .setFault(io.trellis.mesh.v1.Fault.newBuilder()
                                .setDelay(io.trellis.mesh.v1.FaultDelay.newBuilder().setPercent(10).setDurationMs(5000))
                                .setAbort(io.trellis.mesh.v1.FaultAbort.newBuilder().setPercent(5).setStatus(500)))
                        .setFallback(io.trellis.mesh.v1.Fallback.newBuilder().setStatus(200)
                                .setBody(com.google.protobuf.ByteString.copyFromUtf8("{\"items\":[]}")))));
        builder.setInbound(InboundPolicy.newBuilder().setRateLimit(io.trellis.mesh.v1.RateLimit.newBuilder()
                .setRequestsPerSecond(100).setPerCaller(true)));

        RoutingTable table = translator.translate(builder.build());

        ClusterPolicy policy = table.resolve("inventory", "default").orElseThrow().policy();
        assertThat(policy.retries()).isEqualTo(new ClusterPolicy.Retries(3, Duration.ofMillis(500),
                java.util.Set.of("503", "unavailable"), Duration.ofMillis(10), Duration.ofMillis(100), 0.1, 5, true, 1024));
        assertThat(policy.limits()).isEqualTo(new ClusterPolicy.Limits(2, 0, 7));
        assertThat(policy.balancer()).isEqualTo(ClusterPolicy.Balancer.EWMA);
        assertThat(policy.outlier()).isEqualTo(ClusterPolicy.Outlier.DEFAULTS);
        assertThat(policy.breaker()).isEqualTo(ClusterPolicy.Breaker.DEFAULTS);
        io.trellis.sidecar.config.RouteRule rule = table.rulesFor(new ServiceName("inventory", "default")).get(0);
        assertThat(rule.fault()).isEqualTo(new io.trellis.sidecar.config.RouteRule.Fault(10, Duration.ofSeconds(5), 5, 500));
        assertThat(rule.fallback()).isEqualTo(new io.trellis.sidecar.config.RouteRule.Fallback(200, "application/json",
                "{\"items\":[]}"));
        assertThat(table.inbound().rateLimit()).isEqualTo(new io.trellis.sidecar.config.InboundPolicy.RateLimit(100, 100, true));
    }

    @Test
    void rejectsUnknownRetryConditionNamingTheField() {
        Snapshot.Builder builder = snapshot();
        builder.getClustersBuilder(0).setPolicy(io.trellis.mesh.v1.ClusterPolicy.newBuilder()
                .setRetries(io.trellis.mesh.v1.RetryPolicy.newBuilder().setAttempts(1).addRetryOn("sometimes")));

        assertThatThrownBy(() -> translator.translate(builder.build()))
                .isInstanceOf(InvalidSnapshotException.class)
                .hasMessageStartingWith("clusters[0].policy.retries.retry_on[0]: 'sometimes'");
    }

    @Test
    void translatesSubscriptionsWithDefaultsAndThePublishPolicy() throws Exception {
        RoutingTable table = translator.translate(snapshot()
                .addSubscriptions(io.trellis.mesh.v1.Subscription.newBuilder().setName("web-orders").addTopics("orders")
                        .setPath("/events").setConsumerGroup("web").setMaxInFlight(8)
                        .setRetries(io.trellis.mesh.v1.SubscriptionRetries.newBuilder().setAttempts(3))
                        .putDeadLetterTopics("orders", "orders.failed"))
                .setPublish(io.trellis.mesh.v1.PublishPolicy.newBuilder().addRestrictedTopics("payments.*"))
                .build());

        Subscription subscription = table.subscriptions().get(0);
        assertThat(subscription).isEqualTo(new Subscription("web-orders", List.of("orders"), "/events", "web", 8, 3,
                Duration.ofMillis(100), Duration.ofSeconds(10), Duration.ofSeconds(30), java.util.Map.of("orders", "orders.failed")));
        assertThat(subscription.deadLetterTopic("orders")).isEqualTo("orders.failed");
        assertThat(table.publish().allows("payments.eu")).isFalse();
        assertThat(table.publish().allows("orders")).isTrue();
    }

    @Test
    void rejectsABadSubscriptionNamingTheField() {
        assertThatThrownBy(() -> translator.translate(snapshot()
                .addSubscriptions(io.trellis.mesh.v1.Subscription.newBuilder().setName("s").addTopics("orders").addTopics("bad topic")
                        .setPath("/events").setConsumerGroup("web").setMaxInFlight(1))
                .build()))
                .isInstanceOf(InvalidSnapshotException.class)
                .hasMessageStartingWith("subscriptions[0].topics[1]: 'bad topic'");
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
    @org.junit.jupiter.api.Timeout(30)
    void routeRegexesAreRe2SoNoPathCanMakeThemBacktrack() throws Exception {
        // Found by SnapshotTranslatorFuzzTest (Jazzer's regex-injection sanitizer): route regexes were compiled with
        // java.util.regex, whose backtracking takes exponential time on (a+)+$ against "aaa...a!", and every request
        // path is matched against them. With java.util.regex this test does not end.
        RoutingTable table = translator.translate(snapshot().addRoutes(ServiceRoutes.newBuilder().setService("inventory")
                .setNamespace("default").addRules(RouteRule.newBuilder().setMatch(RouteMatch.newBuilder()
                        .setPath(StringMatch.newBuilder().setRegex("/(a+)+$"))))).build());
        io.trellis.sidecar.config.RouteRule rule = table.rulesFor(table.resolve("inventory", "default").orElseThrow().name()).get(0);

        assertThat(rule.path().matches("/" + "a".repeat(64) + "!")).isFalse();
        assertThat(rule.path().matches("/aaaa")).isTrue();
        Snapshot backreference = snapshot().addRoutes(ServiceRoutes.newBuilder().setService("inventory").setNamespace("default")
                .addRules(RouteRule.newBuilder().setMatch(RouteMatch.newBuilder().setPath(StringMatch.newBuilder()
                        .setRegex("/(a)\\1"))))).build();
        assertThatThrownBy(() -> translator.translate(backreference)).isInstanceOf(InvalidSnapshotException.class)
                .hasMessageStartingWith("routes[0].rules[0].match.path.regex: /(a)\\1");
    }

    @Test
    void rejectsAMeshEndpointWithoutAValidIdentity() {
        Snapshot bad = snapshot().addClusters(Cluster.newBuilder().setService("billing").setNamespace("default")
                .addEndpoints(Endpoint.newBuilder().setAddress("127.0.0.9").setPort(15006).setIdentity("billing"))).build();

        assertThatThrownBy(() -> translator.translate(bad)).isInstanceOf(InvalidSnapshotException.class)
                .hasMessageStartingWith("clusters[1].endpoints[0].identity:");
    }

    @Test
    void aServicesVirtualAddressesMustBeIpAddresses() throws Exception {
        RoutingTable table = translator.translate(snapshot().addClusters(Cluster.newBuilder().setService("billing")
                .setNamespace("default").addVirtualAddresses("10.96.0.12")).build());
        assertThat(table.resolve("billing", "default").orElseThrow().virtualAddresses()).containsExactly("10.96.0.12");

        Snapshot bad = snapshot().addClusters(Cluster.newBuilder().setService("billing").setNamespace("default")
                .addVirtualAddresses("billing.default.svc")).build();
        assertThatThrownBy(() -> translator.translate(bad)).isInstanceOf(InvalidSnapshotException.class)
                .hasMessage("clusters[1].virtual_addresses: 'billing.default.svc' (expected an IP address)");
    }

    @Test
    void rejectsASnapshotWithoutTrustedRoots() {
        assertThatThrownBy(() -> translator.translate(snapshot().clearTrustBundlePem().build()))
                .isInstanceOf(InvalidSnapshotException.class).hasMessageContaining("trust_bundle_pem: empty");
    }
}
