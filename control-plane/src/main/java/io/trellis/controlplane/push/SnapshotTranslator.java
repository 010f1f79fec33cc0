package io.trellis.controlplane.push;

import com.google.protobuf.ByteString;
import io.trellis.controlplane.compile.ProxySnapshot;
import io.trellis.controlplane.resource.AuthorizationPolicySpec;
import io.trellis.controlplane.resource.ExternalServiceSpec;
import io.trellis.controlplane.resource.MeshConfigSpec;
import io.trellis.controlplane.resource.RouteSpec;
import io.trellis.controlplane.resource.SubscriptionSpec;
import io.trellis.controlplane.resource.TrafficPolicySpec;
import io.trellis.mesh.v1.AuthorizationAction;
import io.trellis.mesh.v1.AuthorizationPolicy;
import io.trellis.mesh.v1.AuthorizationRule;
import io.trellis.mesh.v1.Backoff;
import io.trellis.mesh.v1.CircuitBreaker;
import io.trellis.mesh.v1.Cluster;
import io.trellis.mesh.v1.ClusterPolicy;
import io.trellis.mesh.v1.ConnectionLimits;
import io.trellis.mesh.v1.Endpoint;
import io.trellis.mesh.v1.ExternalTls;
import io.trellis.mesh.v1.ExternalTlsMode;
import io.trellis.mesh.v1.Fallback;
import io.trellis.mesh.v1.Fault;
import io.trellis.mesh.v1.FaultAbort;
import io.trellis.mesh.v1.FaultDelay;
import io.trellis.mesh.v1.InboundPolicy;
import io.trellis.mesh.v1.LoadBalancer;
import io.trellis.mesh.v1.MeshSettings;
import io.trellis.mesh.v1.MtlsMode;
import io.trellis.mesh.v1.OutlierDetection;
import io.trellis.mesh.v1.RateLimit;
import io.trellis.mesh.v1.RetryBudget;
import io.trellis.mesh.v1.RetryPolicy;
import io.trellis.mesh.v1.RouteMatch;
import io.trellis.mesh.v1.RouteRule;
import io.trellis.mesh.v1.ServiceRoutes;
import io.trellis.mesh.v1.Snapshot;
import io.trellis.mesh.v1.StringMatch;
import io.trellis.mesh.v1.PublishPolicy;
import io.trellis.mesh.v1.Subscription;
import io.trellis.mesh.v1.SubscriptionRetries;
import io.trellis.mesh.v1.Timeouts;
import io.trellis.mesh.v1.WeightedBackend;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** The one place the control plane turns its compiled {@link ProxySnapshot} into the wire message. */
final class SnapshotTranslator {
    private SnapshotTranslator() {
    }

    static Snapshot toProto(ProxySnapshot snapshot, long version) {
        Snapshot.Builder out = Snapshot.newBuilder()
                .setVersion(version)
                .setMesh(mesh(snapshot.mesh()))
                .addAllTrustBundlePem(snapshot.trustBundlePem());
        snapshot.clusters().forEach(c -> out.addClusters(cluster(c)));
        snapshot.routes().forEach(r -> out.addRoutes(routes(r)));
        out.setInbound(inbound(snapshot.inbound()));
        snapshot.subscriptions().forEach(s -> out.addSubscriptions(subscription(s)));
        out.setPublish(PublishPolicy.newBuilder().addAllRestrictedTopics(snapshot.publish().restricted())
                .addAllAllowedTopics(snapshot.publish().allowed()));
        return out.build();
    }

    private static MeshSettings mesh(MeshConfigSpec mesh) {
        return MeshSettings.newBuilder()
                .setTrustDomain(mesh.trustDomain())
                .setMtls(mesh.mtls() == MeshConfigSpec.MtlsMode.STRICT ? MtlsMode.STRICT : MtlsMode.PERMISSIVE)
                .setCertificateTtlMs(ms(mesh.certificateTtl()))
                .setKafkaBootstrapServers(mesh.kafka().bootstrapServers() == null ? "" : mesh.kafka().bootstrapServers())
                .setOutboundTrafficPolicy(mesh.outboundTrafficPolicy() == MeshConfigSpec.OutboundTrafficPolicy.REGISTRY_ONLY
                        ? io.trellis.mesh.v1.OutboundTrafficPolicy.REGISTRY_ONLY : io.trellis.mesh.v1.OutboundTrafficPolicy.ALLOW_ANY)
                .build();
    }

    private static Cluster cluster(ProxySnapshot.Cluster cluster) {
        Cluster.Builder out = Cluster.newBuilder()
                .setService(cluster.service())
                .setNamespace(cluster.namespace())
                .setExternal(cluster.external())
                .addAllVirtualAddresses(cluster.virtualAddresses())
                .setPolicy(policy(cluster.policy()))
                .addAllTcpPorts(cluster.policy().tcpPorts());
        if (cluster.external()) {
            ExternalServiceSpec.Tls tls = cluster.externalTls();
            out.setExternalTls(ExternalTls.newBuilder()
                    .setMode(tls.mode() == ExternalServiceSpec.TlsMode.SIMPLE ? ExternalTlsMode.SIMPLE : ExternalTlsMode.DISABLE)
                    .setSni(tls.sni() == null ? "" : tls.sni()));
        }
        for (ProxySnapshot.Endpoint e : cluster.endpoints()) {
            out.addEndpoints(Endpoint.newBuilder().setAddress(e.address()).setPort(e.port()).setTunnelPort(e.tunnelPort())
                    .setIdentity(e.identity() == null ? "" : e.identity()).putAllLabels(e.labels()).setWeight(e.weight()));
        }
        return out.build();
    }

    private static ClusterPolicy policy(TrafficPolicySpec p) {
        TrafficPolicySpec.Retries r = p.retries();
        return ClusterPolicy.newBuilder()
                .setTimeouts(Timeouts.newBuilder().setRequestMs(ms(p.timeouts().request()))
                        .setConnectMs(ms(p.timeouts().connect())).setStreamIdleMs(ms(p.timeouts().streamIdle()))
                        .setIdleMs(ms(p.timeouts().idle())))
                .setRetries(RetryPolicy.newBuilder().setAttempts(r.attempts())
                        .setPerTryTimeoutMs(r.perTryTimeout() == null ? 0 : ms(r.perTryTimeout()))
                        .addAllRetryOn(r.retryOn()).setBackoff(backoff(r.backoff()))
                        .setBudget(RetryBudget.newBuilder().setRatio(r.budget().ratio())
                                .setMinPerSecond(r.budget().minPerSecond()))
                        .setRetryNonIdempotent(r.retryNonIdempotent())
                        .setMaxBufferedBodyBytes(r.maxBufferedBody().bytes()))
                .setConnectionLimits(ConnectionLimits.newBuilder()
                        .setMaxConnections(p.connectionLimits().maxConnections())
                        .setMaxPendingRequests(p.connectionLimits().maxPendingRequests())
                        .setMaxRequests(p.connectionLimits().maxRequests()))
                .setOutlierDetection(OutlierDetection.newBuilder()
                        .setConsecutiveErrors(p.outlierDetection().consecutiveErrors())
                        .setIntervalMs(ms(p.outlierDetection().interval()))
                        .setBaseEjectionTimeMs(ms(p.outlierDetection().baseEjectionTime()))
                        .setMaxEjectionPercent(p.outlierDetection().maxEjectionPercent()))
                .setCircuitBreaker(CircuitBreaker.newBuilder()
                        .setFailureRatio(p.circuitBreaker().failureRatio())
                        .setMinRequests(p.circuitBreaker().minRequests())
                        .setWindowMs(ms(p.circuitBreaker().window()))
                        .setOpenForMs(ms(p.circuitBreaker().openFor()))
                        .setHalfOpenProbes(p.circuitBreaker().halfOpenProbes()))
                .setLoadBalancer(LoadBalancer.valueOf(p.loadBalancer().name()))
                .build();
    }

    private static Backoff backoff(TrafficPolicySpec.Backoff backoff) {
        return Backoff.newBuilder().setBaseMs(ms(backoff.base())).setMaxMs(ms(backoff.max())).build();
    }

    private static ServiceRoutes routes(ProxySnapshot.ServiceRoutes routes) {
        ServiceRoutes.Builder out = ServiceRoutes.newBuilder().setService(routes.service()).setNamespace(routes.namespace());
        for (ProxySnapshot.NamedRule named : routes.rules()) {
            RouteSpec.Rule rule = named.rule();
            RouteRule.Builder r = RouteRule.newBuilder().setName(named.name())
                    .setMatch(RouteMatch.newBuilder().setPath(stringMatch(rule.match().path()))
                            .addAllMethods(rule.match().methods()))
                    .setTimeoutMs(rule.timeout() == null ? 0 : ms(rule.timeout()));
            rule.match().headers().forEach((name, match) -> r.getMatchBuilder().putHeaders(name, stringMatch(match)));
            rule.backends().forEach(b -> r.addBackends(WeightedBackend.newBuilder().putAllSubset(b.subset()).setWeight(b.weight())));
            if (rule.fault() != null) {
                Fault.Builder fault = Fault.newBuilder();
                if (rule.fault().delay() != null) {
                    fault.setDelay(FaultDelay.newBuilder().setPercent(rule.fault().delay().percent())
                            .setDurationMs(ms(rule.fault().delay().duration())));
                }
                if (rule.fault().abort() != null) {
                    fault.setAbort(FaultAbort.newBuilder().setPercent(rule.fault().abort().percent())
                            .setStatus(rule.fault().abort().status()));
                }
                r.setFault(fault);
            }
            if (rule.fallback() != null) {
                r.setFallback(Fallback.newBuilder().setStatus(rule.fallback().status())
                        .setContentType(rule.fallback().contentType())
                        .setBody(ByteString.copyFrom(rule.fallback().body(), StandardCharsets.UTF_8)));
            }
            out.addRules(r);
        }
        return out.build();
    }

    private static StringMatch stringMatch(RouteSpec.StringMatch match) {
        StringMatch.Builder out = StringMatch.newBuilder();
        if (match.exact() != null) {
            out.setExact(match.exact());
        } else if (match.prefix() != null) {
            out.setPrefix(match.prefix());
        } else {
            out.setRegex(match.regex());
        }
        return out.build();
    }

    private static InboundPolicy inbound(ProxySnapshot.Inbound inbound) {
        InboundPolicy.Builder out = InboundPolicy.newBuilder();
        for (ProxySnapshot.NamedAuthorization named : inbound.authorization()) {
            AuthorizationPolicySpec spec = named.spec();
            AuthorizationPolicy.Builder policy = AuthorizationPolicy.newBuilder().setName(named.name())
                    .setAction(spec.action() == AuthorizationPolicySpec.Action.ALLOW ? AuthorizationAction.ALLOW
                            : AuthorizationAction.DENY);
            spec.rules().forEach(rule -> policy.addRules(AuthorizationRule.newBuilder().addAllFrom(rule.from())
                    .addAllMethods(rule.to().methods()).addAllPaths(rule.to().paths())));
            out.addAuthorization(policy);
        }
        if (inbound.rateLimit() != null) {
            out.setRateLimit(RateLimit.newBuilder().setRequestsPerSecond(inbound.rateLimit().requestsPerSecond())
                    .setBurst(inbound.rateLimit().burst()).setPerCaller(inbound.rateLimit().perCaller()));
        }
        out.addAllTcpPorts(inbound.tcpPorts());
        return out.build();
    }

    private static Subscription subscription(ProxySnapshot.Subscription named) {
        SubscriptionSpec spec = named.spec();
        Subscription.Builder out = Subscription.newBuilder().setName(named.name()).addAllTopics(spec.topics())
                .setPath(spec.path()).setConsumerGroup(spec.consumerGroup()).setMaxInFlight(spec.maxInFlight())
                .setRetries(SubscriptionRetries.newBuilder().setAttempts(spec.retries().attempts())
                        .setBackoff(backoff(spec.retries().backoff())))
                .setDeliveryTimeoutMs(ms(spec.timeout()));
        spec.topics().forEach(topic -> out.putDeadLetterTopics(topic, spec.deadLetterTopicFor(topic)));
        return out.build();
    }

    private static long ms(Duration duration) {
        return duration.toMillis();
    }
}
