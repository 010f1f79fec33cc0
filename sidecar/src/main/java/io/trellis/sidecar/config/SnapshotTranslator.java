package io.trellis.sidecar.config;

import com.google.re2j.Pattern;
import com.google.re2j.PatternSyntaxException;
import io.trellis.certs.InvalidSpiffeIdException;
import io.trellis.certs.Pem;
import io.trellis.certs.SpiffeId;
import io.trellis.certs.TrustBundle;
import io.trellis.mesh.v1.Snapshot;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The one place proto config becomes domain config. A snapshot is accepted whole or rejected whole with a
 * reason naming the field (Envoy's xDS rule), so a bad update never half-applies.
 */
public final class SnapshotTranslator {
    /** Named retry conditions (besides a status 500-599), as the control plane validates them. */
    static final Set<String> RETRY_CONDITIONS = Set.of("connect-failure", "refused-stream", "reset", "5xx",
            "gateway-error", "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable");
    private final SpiffeId self;

    /** A translator for a sidecar holding identity {@code self}: snapshots must agree with its trust domain. */
    public SnapshotTranslator(SpiffeId self) {
        this.self = self;
    }

    /** Translates and validates {@code snapshot}. */
    public RoutingTable translate(Snapshot snapshot) throws InvalidSnapshotException {
        MeshSettings mesh = mesh(snapshot.getMesh());
        TrustBundle bundle = trustBundle(mesh.trustDomain(), snapshot.getTrustBundlePemList());
        Map<ServiceName, Cluster> clusters = new HashMap<>();
        for (int i = 0; i < snapshot.getClustersCount(); i++) {
            Cluster cluster = cluster("clusters[" + i + "]", snapshot.getClusters(i), mesh.trustDomain());
            if (clusters.put(cluster.name(), cluster) != null) {
                throw new InvalidSnapshotException("clusters[" + i + "].service: " + cluster.name() + " (duplicate)");
            }
        }
        Map<ServiceName, List<RouteRule>> routes = new HashMap<>();
        for (int i = 0; i < snapshot.getRoutesCount(); i++) {
            io.trellis.mesh.v1.ServiceRoutes serviceRoutes = snapshot.getRoutes(i);
            String field = "routes[" + i + "]";
            ServiceName service = new ServiceName(serviceRoutes.getService(), serviceRoutes.getNamespace());
            List<RouteRule> rules = new ArrayList<>();
            for (int r = 0; r < serviceRoutes.getRulesCount(); r++) {
                rules.add(rule(field + ".rules[" + r + "]", serviceRoutes.getRules(r)));
            }
            if (!rules.isEmpty()) {
                routes.put(service, rules);
            }
        }
        List<Subscription> subscriptions = new ArrayList<>();
        Set<String> subscriptionNames = new HashSet<>();
        for (int i = 0; i < snapshot.getSubscriptionsCount(); i++) {
            Subscription subscription = subscription("subscriptions[" + i + "]", snapshot.getSubscriptions(i));
            if (!subscriptionNames.add(subscription.name())) {
                throw new InvalidSnapshotException("subscriptions[" + i + "].name: " + subscription.name() + " (duplicate)");
            }
            subscriptions.add(subscription);
        }
        PublishPolicy publish = publish(snapshot.getPublish());
        return new RoutingTable(snapshot.getVersion(), mesh, bundle, clusters, routes, inbound(snapshot.getInbound()),
                subscriptions, publish);
    }

    private static Subscription subscription(String field, io.trellis.mesh.v1.Subscription proto) throws InvalidSnapshotException {
        if (proto.getName().isBlank()) {
            throw new InvalidSnapshotException(field + ".name: empty (expected the resource name)");
        }
        if (proto.getTopicsCount() == 0) {
            throw new InvalidSnapshotException(field + ".topics: empty (expected at least one topic)");
        }
        for (int i = 0; i < proto.getTopicsCount(); i++) {
            requireTopic(field + ".topics[" + i + "]", proto.getTopics(i));
        }
        for (Map.Entry<String, String> dlq : proto.getDeadLetterTopicsMap().entrySet()) {
            requireTopic(field + ".dead_letter_topics[" + dlq.getKey() + "]", dlq.getValue());
        }
        if (!proto.getPath().startsWith("/")) {
            throw new InvalidSnapshotException(field + ".path: '" + proto.getPath() + "' (expected an absolute path)");
        }
        if (proto.getConsumerGroup().isBlank()) {
            throw new InvalidSnapshotException(field + ".consumer_group: empty (expected a group id)");
        }
        if (proto.getMaxInFlight() < 1 || proto.getMaxInFlight() > 1024) {
            throw new InvalidSnapshotException(field + ".max_in_flight: " + proto.getMaxInFlight() + " (expected 1-1024)");
        }
        Duration base = orDefault(proto.getRetries().getBackoff().getBaseMs(), Duration.ofMillis(100));
        Duration max = orDefault(proto.getRetries().getBackoff().getMaxMs(), Duration.ofSeconds(10));
        if (max.compareTo(base) < 0) {
            throw new InvalidSnapshotException(field + ".retries.backoff.max_ms: " + max.toMillis() + " (expected >= base_ms "
                    + base.toMillis() + ")");
        }
        return new Subscription(proto.getName(), proto.getTopicsList(), proto.getPath(), proto.getConsumerGroup(),
                proto.getMaxInFlight(), proto.getRetries().getAttempts(), base, max,
                orDefault(proto.getDeliveryTimeoutMs(), Duration.ofSeconds(30)), proto.getDeadLetterTopicsMap());
    }

    private static PublishPolicy publish(io.trellis.mesh.v1.PublishPolicy proto) throws InvalidSnapshotException {
        for (int i = 0; i < proto.getRestrictedTopicsCount(); i++) {
            requireTopicPattern("publish.restricted_topics[" + i + "]", proto.getRestrictedTopics(i));
        }
        for (int i = 0; i < proto.getAllowedTopicsCount(); i++) {
            requireTopicPattern("publish.allowed_topics[" + i + "]", proto.getAllowedTopics(i));
        }
        return new PublishPolicy(proto.getRestrictedTopicsList(), proto.getAllowedTopicsList());
    }

    private static void requireTopic(String field, String topic) throws InvalidSnapshotException {
        if (!TopicName.isValid(topic)) {
            throw new InvalidSnapshotException(field + ": '" + topic + "' (expected " + TopicName.RULE + ")");
        }
    }

    private static void requireTopicPattern(String field, String pattern) throws InvalidSnapshotException {
        if (!pattern.equals("*")) {
            requireTopic(field, pattern.endsWith("*") ? pattern.substring(0, pattern.length() - 1) : pattern);
        }
    }

    private MeshSettings mesh(io.trellis.mesh.v1.MeshSettings proto) throws InvalidSnapshotException {
        if (!proto.getTrustDomain().equals(self.trustDomain())) {
            // Applying it would make every peer check fail: our own certificate is in the old domain.
            throw new InvalidSnapshotException("mesh.trust_domain: " + proto.getTrustDomain()
                    + " (expected " + self.trustDomain() + ", the trust domain of this sidecar's identity;"
                    + " restart the sidecar with --trust-domain to move it)");
        }
        MeshSettings.MtlsMode mode = switch (proto.getMtls()) {
            case PERMISSIVE -> MeshSettings.MtlsMode.PERMISSIVE;
            case STRICT, MTLS_MODE_UNSPECIFIED -> MeshSettings.MtlsMode.STRICT;
            default -> throw new InvalidSnapshotException("mesh.mtls: " + proto.getMtlsValue() + " (expected STRICT or PERMISSIVE)");
        };
        boolean registryOnly = switch (proto.getOutboundTrafficPolicy()) {
            case REGISTRY_ONLY -> true;
            case ALLOW_ANY, OUTBOUND_TRAFFIC_POLICY_UNSPECIFIED -> false;
            default -> throw new InvalidSnapshotException("mesh.outbound_traffic_policy: "
                    + proto.getOutboundTrafficPolicyValue() + " (expected ALLOW_ANY or REGISTRY_ONLY)");
        };
        return new MeshSettings(proto.getTrustDomain(), mode, Duration.ofMillis(proto.getCertificateTtlMs()),
                proto.getKafkaBootstrapServers(), registryOnly);
    }

    private static TrustBundle trustBundle(String trustDomain, List<String> pems) throws InvalidSnapshotException {
        if (pems.isEmpty()) {
            throw new InvalidSnapshotException("trust_bundle_pem: empty (expected at least one root)");
        }
        List<X509Certificate> roots = new ArrayList<>();
        for (int i = 0; i < pems.size(); i++) {
            try {
                roots.addAll(Pem.decodeCertificates(pems.get(i)));
            } catch (CertificateException e) {
                throw new InvalidSnapshotException("trust_bundle_pem[" + i + "]: not a PEM certificate (" + e.getMessage() + ")");
            }
        }
        return new TrustBundle(trustDomain, roots);
    }

    private static Cluster cluster(String field, io.trellis.mesh.v1.Cluster proto, String trustDomain)
            throws InvalidSnapshotException {
        requireName(field + ".service", proto.getService());
        requireName(field + ".namespace", proto.getNamespace());
        List<Endpoint> endpoints = new ArrayList<>();
        for (int i = 0; i < proto.getEndpointsCount(); i++) {
            io.trellis.mesh.v1.Endpoint endpoint = proto.getEndpoints(i);
            String at = field + ".endpoints[" + i + "]";
            if (endpoint.getAddress().isBlank()) {
                throw new InvalidSnapshotException(at + ".address: empty (expected a host or IP)");
            }
            if (endpoint.getPort() < 1 || endpoint.getPort() > 65535) {
                throw new InvalidSnapshotException(at + ".port: " + endpoint.getPort() + " (expected 1-65535)");
            }
            SpiffeId identity = null;
            if (!proto.getExternal()) {
                try {
                    identity = SpiffeId.parse(endpoint.getIdentity());
                } catch (InvalidSpiffeIdException e) {
                    throw new InvalidSnapshotException(at + ".identity: " + e.getMessage());
                }
                if (!identity.trustDomain().equals(trustDomain)) {
                    throw new InvalidSnapshotException(at + ".identity: " + identity + " (expected trust domain " + trustDomain + ")");
                }
            }
            if (endpoint.getTunnelPort() > 65535) {
                throw new InvalidSnapshotException(at + ".tunnel_port: " + endpoint.getTunnelPort() + " (expected 0-65535)");
            }
            endpoints.add(new Endpoint(endpoint.getAddress(), endpoint.getPort(), endpoint.getTunnelPort(), identity,
                    endpoint.getLabelsMap(), Math.max(1, endpoint.getWeight())));
        }
        boolean tls = proto.getExternal() && proto.getExternalTls().getMode() != io.trellis.mesh.v1.ExternalTlsMode.DISABLE;
        return new Cluster(new ServiceName(proto.getService(), proto.getNamespace()), proto.getExternal(), tls,
                proto.getExternalTls().getSni(), endpoints, policy(field + ".policy", proto.getPolicy()),
                ports(field + ".tcp_ports", proto.getTcpPortsList()), virtualAddresses(field, proto.getVirtualAddressesList()));
    }

    /** IP literals only: a virtual address is matched against a connection's original destination. */
    private static List<String> virtualAddresses(String field, List<String> addresses) throws InvalidSnapshotException {
        List<String> checked = new ArrayList<>();
        for (String address : addresses) {
            if (!address.matches("[0-9.]+|[0-9a-fA-F:]+")) {
                throw new InvalidSnapshotException(field + ".virtual_addresses: '" + address + "' (expected an IP address)");
            }
            try {
                checked.add(java.net.InetAddress.getByName(address).getHostAddress());
            } catch (java.net.UnknownHostException e) {
                throw new InvalidSnapshotException(field + ".virtual_addresses: '" + address + "' (expected an IP address)");
            }
        }
        return checked;
    }

    /** The cluster's policy; fields left at 0 take DESIGN.md §5 defaults (older control planes send fewer). */
    private static ClusterPolicy policy(String field, io.trellis.mesh.v1.ClusterPolicy proto) throws InvalidSnapshotException {
        ClusterPolicy d = ClusterPolicy.DEFAULTS;
        ClusterPolicy.Retries retries = proto.hasRetries() ? retries(field + ".retries", proto.getRetries()) : d.retries();
        io.trellis.mesh.v1.ConnectionLimits l = proto.getConnectionLimits();
        ClusterPolicy.Limits limits = new ClusterPolicy.Limits(
                orDefault(l.getMaxConnections(), d.limits().maxConnections()),
                proto.hasConnectionLimits() ? l.getMaxPendingRequests() : d.limits().maxPendingRequests(),
                orDefault(l.getMaxRequests(), d.limits().maxRequests()));
        io.trellis.mesh.v1.OutlierDetection o = proto.getOutlierDetection();
        ClusterPolicy.Outlier outlier = new ClusterPolicy.Outlier(
                orDefault(o.getConsecutiveErrors(), d.outlier().consecutiveErrors()),
                orDefault(o.getIntervalMs(), d.outlier().interval()),
                orDefault(o.getBaseEjectionTimeMs(), d.outlier().baseEjectionTime()),
                proto.hasOutlierDetection() ? percent(field + ".outlier_detection.max_ejection_percent",
                        o.getMaxEjectionPercent()) : d.outlier().maxEjectionPercent());
        io.trellis.mesh.v1.CircuitBreaker b = proto.getCircuitBreaker();
        if (b.getFailureRatio() < 0 || b.getFailureRatio() > 1) {
            throw new InvalidSnapshotException(field + ".circuit_breaker.failure_ratio: " + b.getFailureRatio()
                    + " (expected > 0 and <= 1)");
        }
        ClusterPolicy.Breaker breaker = new ClusterPolicy.Breaker(
                b.getFailureRatio() > 0 ? b.getFailureRatio() : d.breaker().failureRatio(),
                orDefault(b.getMinRequests(), d.breaker().minRequests()),
                orDefault(b.getWindowMs(), d.breaker().window()),
                orDefault(b.getOpenForMs(), d.breaker().openFor()),
                orDefault(b.getHalfOpenProbes(), d.breaker().halfOpenProbes()));
        ClusterPolicy.Balancer balancer = switch (proto.getLoadBalancer()) {
            case LEAST_REQUEST, LOAD_BALANCER_UNSPECIFIED -> ClusterPolicy.Balancer.LEAST_REQUEST;
            case ROUND_ROBIN -> ClusterPolicy.Balancer.ROUND_ROBIN;
            case RANDOM -> ClusterPolicy.Balancer.RANDOM;
            case EWMA -> ClusterPolicy.Balancer.EWMA;
            default -> throw new InvalidSnapshotException(field + ".load_balancer: " + proto.getLoadBalancerValue()
                    + " (expected LEAST_REQUEST, ROUND_ROBIN, RANDOM or EWMA)");
        };
        return new ClusterPolicy(timeouts(proto.getTimeouts()), retries, limits, outlier, breaker, balancer);
    }

    private static ClusterPolicy.Retries retries(String field, io.trellis.mesh.v1.RetryPolicy proto)
            throws InvalidSnapshotException {
        ClusterPolicy.Retries d = ClusterPolicy.Retries.DEFAULTS;
        if (proto.getAttempts() > 10) {
            throw new InvalidSnapshotException(field + ".attempts: " + proto.getAttempts() + " (expected <= 10)");
        }
        Set<String> retryOn = new HashSet<>();
        for (int i = 0; i < proto.getRetryOnCount(); i++) {
            String condition = proto.getRetryOn(i);
            if (!RETRY_CONDITIONS.contains(condition) && !condition.matches("5\\d\\d")) {
                throw new InvalidSnapshotException(field + ".retry_on[" + i + "]: '" + condition
                        + "' (expected a status 500-599 or one of " + String.join(", ", RETRY_CONDITIONS.stream().sorted().toList()) + ")");
            }
            retryOn.add(condition);
        }
        if (proto.getBudget().getRatio() < 0 || proto.getBudget().getRatio() > 1) {
            throw new InvalidSnapshotException(field + ".budget.ratio: " + proto.getBudget().getRatio() + " (expected 0-1)");
        }
        Duration base = orDefault(proto.getBackoff().getBaseMs(), d.backoffBase());
        Duration max = orDefault(proto.getBackoff().getMaxMs(), d.backoffMax());
        if (max.compareTo(base) < 0) {
            throw new InvalidSnapshotException(field + ".backoff.max_ms: " + max.toMillis() + " (expected >= base_ms "
                    + base.toMillis() + ")");
        }
        return new ClusterPolicy.Retries(proto.getAttempts(),
                proto.getPerTryTimeoutMs() > 0 ? Duration.ofMillis(proto.getPerTryTimeoutMs()) : null,
                proto.getRetryOnCount() == 0 ? d.retryOn() : retryOn, base, max,
                proto.hasBudget() ? proto.getBudget().getRatio() : d.budgetRatio(),
                proto.hasBudget() ? proto.getBudget().getMinPerSecond() : d.budgetMinPerSecond(),
                proto.getRetryNonIdempotent(),
                proto.getMaxBufferedBodyBytes() > 0 ? proto.getMaxBufferedBodyBytes() : d.maxBufferedBody());
    }

    private static int percent(String field, int value) throws InvalidSnapshotException {
        if (value > 100) {
            throw new InvalidSnapshotException(field + ": " + value + " (expected 0-100)");
        }
        return value;
    }

    private static int orDefault(int value, int fallback) {
        return value > 0 ? value : fallback;
    }

    private static Timeouts timeouts(io.trellis.mesh.v1.Timeouts proto) {
        Timeouts d = Timeouts.DEFAULTS;
        return new Timeouts(orDefault(proto.getRequestMs(), d.request()), orDefault(proto.getConnectMs(), d.connect()),
                orDefault(proto.getStreamIdleMs(), d.streamIdle()), orDefault(proto.getIdleMs(), d.idle()));
    }

    private static Duration orDefault(long millis, Duration fallback) {
        return millis > 0 ? Duration.ofMillis(millis) : fallback;
    }

    private static RouteRule rule(String field, io.trellis.mesh.v1.RouteRule proto) throws InvalidSnapshotException {
        StringMatcher path = proto.getMatch().hasPath() ? matcher(field + ".match.path", proto.getMatch().getPath()) : null;
        Map<String, StringMatcher> headers = new LinkedHashMap<>();
        for (Map.Entry<String, io.trellis.mesh.v1.StringMatch> header : proto.getMatch().getHeadersMap().entrySet()) {
            headers.put(header.getKey().toLowerCase(Locale.ROOT),
                    matcher(field + ".match.headers." + header.getKey(), header.getValue()));
        }
        List<RouteRule.WeightedBackend> backends = new ArrayList<>();
        for (io.trellis.mesh.v1.WeightedBackend backend : proto.getBackendsList()) {
            backends.add(new RouteRule.WeightedBackend(backend.getSubsetMap(), backend.getWeight()));
        }
        if (backends.isEmpty()) {
            backends.add(new RouteRule.WeightedBackend(Map.of(), 100));
        }
        if (backends.stream().mapToInt(RouteRule.WeightedBackend::weight).sum() <= 0) {
            throw new InvalidSnapshotException(field + ".backends: weights sum to 0 (expected > 0)");
        }
        List<String> methods = proto.getMatch().getMethodsList().stream().map(m -> m.toUpperCase(Locale.ROOT)).toList();
        return new RouteRule(proto.getName(), path, headers, methods, backends,
                proto.getTimeoutMs() > 0 ? Duration.ofMillis(proto.getTimeoutMs()) : null,
                proto.hasFault() ? fault(field + ".fault", proto.getFault()) : null,
                proto.hasFallback() ? fallback(field + ".fallback", proto.getFallback()) : null);
    }

    private static RouteRule.Fault fault(String field, io.trellis.mesh.v1.Fault proto) throws InvalidSnapshotException {
        double delayPercent = proto.hasDelay() ? proto.getDelay().getPercent() : 0;
        double abortPercent = proto.hasAbort() ? proto.getAbort().getPercent() : 0;
        if (delayPercent < 0 || delayPercent > 100) {
            throw new InvalidSnapshotException(field + ".delay.percent: " + delayPercent + " (expected 0-100)");
        }
        if (abortPercent < 0 || abortPercent > 100) {
            throw new InvalidSnapshotException(field + ".abort.percent: " + abortPercent + " (expected 0-100)");
        }
        int status = proto.hasAbort() ? proto.getAbort().getStatus() : 503;
        if (proto.hasAbort() && (status < 200 || status > 599)) {
            throw new InvalidSnapshotException(field + ".abort.status: " + status + " (expected 200-599)");
        }
        return new RouteRule.Fault(delayPercent, Duration.ofMillis(proto.getDelay().getDurationMs()), abortPercent, status);
    }

    private static RouteRule.Fallback fallback(String field, io.trellis.mesh.v1.Fallback proto) throws InvalidSnapshotException {
        if (proto.getStatus() < 200 || proto.getStatus() > 599) {
            throw new InvalidSnapshotException(field + ".status: " + proto.getStatus() + " (expected 200-599)");
        }
        String contentType = proto.getContentType().isEmpty() ? "application/json" : proto.getContentType();
        return new RouteRule.Fallback(proto.getStatus(), contentType, proto.getBody().toStringUtf8());
    }

    private static StringMatcher matcher(String field, io.trellis.mesh.v1.StringMatch proto) throws InvalidSnapshotException {
        switch (proto.getMatchCase()) {
            case EXACT:
                return new StringMatcher.Exact(proto.getExact());
            case PREFIX:
                return new StringMatcher.Prefix(proto.getPrefix());
            case REGEX:
                try {
                    return new StringMatcher.Regex(Pattern.compile(proto.getRegex()));
                } catch (PatternSyntaxException e) {
                    throw new InvalidSnapshotException(field + ".regex: " + proto.getRegex() + " (" + e.getDescription() + ")");
                }
            default:
                throw new InvalidSnapshotException(field + ": empty (expected exact, prefix or regex)");
        }
    }

    private static InboundPolicy inbound(io.trellis.mesh.v1.InboundPolicy proto) throws InvalidSnapshotException {
        List<InboundPolicy.AuthorizationPolicy> policies = new ArrayList<>();
        for (int i = 0; i < proto.getAuthorizationCount(); i++) {
            io.trellis.mesh.v1.AuthorizationPolicy policy = proto.getAuthorization(i);
            boolean allow = switch (policy.getAction()) {
                case ALLOW -> true;
                case DENY -> false;
                default -> throw new InvalidSnapshotException("inbound.authorization[" + i + "].action: "
                        + policy.getAction() + " (expected ALLOW or DENY)");
            };
            List<InboundPolicy.Rule> rules = new ArrayList<>();
            for (io.trellis.mesh.v1.AuthorizationRule rule : policy.getRulesList()) {
                rules.add(new InboundPolicy.Rule(rule.getFromList(),
                        rule.getMethodsList().stream().map(m -> m.toUpperCase(Locale.ROOT)).toList(), rule.getPathsList()));
            }
            policies.add(new InboundPolicy.AuthorizationPolicy(policy.getName(), allow, rules));
        }
        InboundPolicy.RateLimit rateLimit = null;
        if (proto.hasRateLimit()) {
            io.trellis.mesh.v1.RateLimit limit = proto.getRateLimit();
            if (!(limit.getRequestsPerSecond() > 0)) {
                throw new InvalidSnapshotException("inbound.rate_limit.requests_per_second: " + limit.getRequestsPerSecond()
                        + " (expected > 0)");
            }
            int burst = limit.getBurst() > 0 ? limit.getBurst() : (int) Math.max(1, Math.ceil(limit.getRequestsPerSecond()));
            rateLimit = new InboundPolicy.RateLimit(limit.getRequestsPerSecond(), burst, limit.getPerCaller());
        }
        return new InboundPolicy(policies, rateLimit, ports("inbound.tcp_ports", proto.getTcpPortsList()));
    }

    private static List<Integer> ports(String field, List<Integer> ports) throws InvalidSnapshotException {
        for (int i = 0; i < ports.size(); i++) {
            if (ports.get(i) < 1 || ports.get(i) > 65535) {
                throw new InvalidSnapshotException(field + "[" + i + "]: " + ports.get(i) + " (expected 1-65535)");
            }
        }
        return List.copyOf(ports);
    }

    private static void requireName(String field, String value) throws InvalidSnapshotException {
        if (!value.matches("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")) {
            throw new InvalidSnapshotException(field + ": '" + value + "' (expected a DNS label)");
        }
    }
}
