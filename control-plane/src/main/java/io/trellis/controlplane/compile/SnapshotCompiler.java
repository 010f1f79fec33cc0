package io.trellis.controlplane.compile;

import io.trellis.certs.Pem;
import io.trellis.certs.TrustBundle;
import io.trellis.controlplane.registry.ClusterServices;
import io.trellis.controlplane.registry.ProxyInstance;
import io.trellis.controlplane.resource.AuthorizationPolicySpec;
import io.trellis.controlplane.resource.ExternalServiceSpec;
import io.trellis.controlplane.resource.Kind;
import io.trellis.controlplane.resource.Resource;
import io.trellis.controlplane.resource.RouteSpec;
import io.trellis.controlplane.resource.SubscriptionSpec;
import io.trellis.controlplane.resource.TopicPolicySpec;
import io.trellis.controlplane.resource.TrafficPolicySpec;
import io.trellis.controlplane.store.MeshState;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Compiles policy resources and the registry into one {@link ProxySnapshot} per proxy. A pure function
 * of its inputs. Rules where several resources meet:
 * <ul>
 *   <li>a service's TrafficPolicy is the one in its namespace naming it; with several, the first by
 *       resource name wins (later ones are ignored, as Istio does for duplicate DestinationRules);</li>
 *   <li>Route resources for one service are concatenated in resource-name order, rules in their order;</li>
 *   <li>the proxy enforces every AuthorizationPolicy naming its own service in its namespace;</li>
 *   <li>TopicPolicies of every namespace restrict publishing (topic names are global to the broker);</li>
 *   <li>an ExternalService with the name of a service that also has sidecars is ignored: the mesh wins;</li>
 *   <li>a Kubernetes service gives a mesh service of its name its ClusterIPs; one that no sidecar and no
 *       ExternalService serves becomes a plaintext cluster of its ready pods (sidecars, then ExternalServices, then
 *       Kubernetes).</li>
 * </ul>
 */
public final class SnapshotCompiler {
    private SnapshotCompiler() {
    }

    /** The snapshot for {@code proxy}, outside Kubernetes. */
    public static ProxySnapshot compile(MeshState state, List<ProxyInstance> instances, TrustBundle bundle,
            ProxyInstance proxy) {
        return compile(state, instances, Map.of(), bundle, proxy);
    }

    /**
     * The snapshot for {@code proxy}.
     *
     * @param cluster what Kubernetes says about services, by {@code namespace/name}: a mesh service gets its
     *     ClusterIPs; a service no sidecar and no ExternalService serves becomes a plaintext cluster of its ready pods
     */
    public static ProxySnapshot compile(MeshState state, List<ProxyInstance> instances,
            Map<String, ClusterServices.Service> cluster, TrustBundle bundle, ProxyInstance proxy) {
        List<String> bundlePem = bundle.roots().stream().map(root -> Pem.encodeCertificates(List.of(root))).toList();
        return new ProxySnapshot(state.meshConfig(), bundlePem, clusters(state, instances, cluster), routes(state),
                inbound(state, proxy), subscriptions(state, proxy), publish(state, proxy));
    }

    private static List<ProxySnapshot.Cluster> clusters(MeshState state, List<ProxyInstance> instances,
            Map<String, ClusterServices.Service> cluster) {
        Map<String, List<ProxyInstance>> byService = new TreeMap<>();
        for (ProxyInstance instance : instances) {
            byService.computeIfAbsent(instance.namespace() + "/" + instance.service(), k -> new ArrayList<>()).add(instance);
        }
        List<ProxySnapshot.Cluster> clusters = new ArrayList<>();
        byService.forEach((key, members) -> {
            ProxyInstance first = members.get(0);
            List<ProxySnapshot.Endpoint> endpoints = members.stream()
                    .sorted(Comparator.comparing(ProxyInstance::address).thenComparing(ProxyInstance::inboundPort))
                    .map(i -> new ProxySnapshot.Endpoint(i.address(), i.inboundPort(), i.tunnelPort(), i.identity().toString(),
                            i.labels(), 1))
                    .toList();
            clusters.add(new ProxySnapshot.Cluster(first.service(), first.namespace(), null, endpoints,
                    trafficPolicy(state, first.namespace(), first.service()),
                    cluster.containsKey(key) ? cluster.get(key).virtualAddresses() : List.of()));
        });
        Set<String> external = new HashSet<>();
        for (Resource resource : state.resources(Kind.EXTERNAL_SERVICE, null)) {
            ExternalServiceSpec spec = resource.spec(ExternalServiceSpec.class);
            String namespace = resource.key().namespace();
            if (byService.containsKey(namespace + "/" + spec.service())) {
                continue;
            }
            external.add(namespace + "/" + spec.service());
            List<ProxySnapshot.Endpoint> endpoints = spec.endpoints().stream()
                    .map(e -> new ProxySnapshot.Endpoint(e.address(), e.port(), 0, null, Map.of(), 1)).toList();
            clusters.add(new ProxySnapshot.Cluster(spec.service(), namespace, spec.tls(), endpoints,
                    trafficPolicy(state, namespace, spec.service())));
        }
        // Kubernetes services that no sidecar serves and no ExternalService names: their ready pods, in plaintext. (A
        // ready injected pod has a registered sidecar: its proxy's startup probe held the app back until then.)
        Set<String> proxies = new HashSet<>();
        instances.forEach(instance -> proxies.add(instance.address()));
        cluster.forEach((key, service) -> {
            if (byService.containsKey(key) || external.contains(key)) {
                return;
            }
            List<ProxySnapshot.Endpoint> endpoints = service.endpoints().stream().filter(e -> !proxies.contains(e.ip()))
                    .map(e -> new ProxySnapshot.Endpoint(e.ip(), e.port(), 0, null, Map.of(), 1)).toList();
            if (endpoints.isEmpty()) {
                return;
            }
            String namespace = key.substring(0, key.indexOf('/'));
            String name = key.substring(key.indexOf('/') + 1);
            clusters.add(new ProxySnapshot.Cluster(name, namespace,
                    new ExternalServiceSpec.Tls(ExternalServiceSpec.TlsMode.DISABLE, null), endpoints,
                    trafficPolicy(state, namespace, name), service.virtualAddresses()));
        });
        clusters.sort(Comparator.comparing(ProxySnapshot.Cluster::namespace).thenComparing(ProxySnapshot.Cluster::service));
        return clusters;
    }

    private static TrafficPolicySpec trafficPolicy(MeshState state, String namespace, String service) {
        return forService(state, Kind.TRAFFIC_POLICY, namespace, service).stream().findFirst()
                .map(r -> r.spec(TrafficPolicySpec.class))
                .orElseGet(() -> TrafficPolicySpec.defaultsFor(service));
    }

    private static List<ProxySnapshot.ServiceRoutes> routes(MeshState state) {
        Map<String, List<ProxySnapshot.NamedRule>> byService = new LinkedHashMap<>();
        Map<String, String[]> names = new LinkedHashMap<>();
        for (Resource resource : state.resources(Kind.ROUTE, null)) {
            RouteSpec spec = resource.spec(RouteSpec.class);
            String key = resource.key().namespace() + "/" + spec.service();
            names.putIfAbsent(key, new String[] {resource.key().namespace(), spec.service()});
            List<ProxySnapshot.NamedRule> rules = byService.computeIfAbsent(key, k -> new ArrayList<>());
            for (int i = 0; i < spec.rules().size(); i++) {
                rules.add(new ProxySnapshot.NamedRule(resource.metadata().name() + "/" + i, spec.rules().get(i)));
            }
        }
        List<ProxySnapshot.ServiceRoutes> routes = new ArrayList<>();
        byService.forEach((key, rules) -> routes.add(new ProxySnapshot.ServiceRoutes(names.get(key)[1], names.get(key)[0], rules)));
        routes.sort(Comparator.comparing(ProxySnapshot.ServiceRoutes::namespace).thenComparing(ProxySnapshot.ServiceRoutes::service));
        return routes;
    }

    private static ProxySnapshot.Inbound inbound(MeshState state, ProxyInstance proxy) {
        List<ProxySnapshot.NamedAuthorization> authorization = forService(state, Kind.AUTHORIZATION_POLICY,
                proxy.namespace(), proxy.service()).stream()
                .map(r -> new ProxySnapshot.NamedAuthorization(r.metadata().name(), r.spec(AuthorizationPolicySpec.class)))
                .toList();
        TrafficPolicySpec own = trafficPolicy(state, proxy.namespace(), proxy.service());
        return new ProxySnapshot.Inbound(authorization, own.rateLimit(), own.tcpPorts());
    }

    private static List<ProxySnapshot.Subscription> subscriptions(MeshState state, ProxyInstance proxy) {
        return forService(state, Kind.SUBSCRIPTION, proxy.namespace(), proxy.service()).stream()
                .map(r -> new ProxySnapshot.Subscription(r.metadata().name(), r.spec(SubscriptionSpec.class)))
                .toList();
    }

    private static ProxySnapshot.Publish publish(MeshState state, ProxyInstance proxy) {
        java.util.SortedSet<String> restricted = new java.util.TreeSet<>();
        java.util.SortedSet<String> allowed = new java.util.TreeSet<>();
        for (Resource resource : state.resources(Kind.TOPIC_POLICY, null)) {
            TopicPolicySpec spec = resource.spec(TopicPolicySpec.class);
            restricted.addAll(spec.topics());
            if (spec.allowsPublisher(proxy.identity())) {
                allowed.addAll(spec.topics());
            }
        }
        return new ProxySnapshot.Publish(List.copyOf(restricted), List.copyOf(allowed));
    }

    /** Resources of {@code kind} in {@code namespace} whose spec names {@code service}, by resource name. */
    private static List<Resource> forService(MeshState state, Kind kind, String namespace, String service) {
        return state.resources(kind, namespace).stream()
                .filter(r -> service.equals(r.spec().service()))
                .toList();
    }
}
