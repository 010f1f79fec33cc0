package io.trellis.sidecar.config;

import io.trellis.certs.TrustBundle;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One accepted snapshot, compiled for the request path: immutable, replaced whole on every update and read
 * without locks through {@link RoutingTableRef}.
 *
 * @param version the snapshot version it came from (0 for the empty table before the first snapshot)
 * @param mesh mesh-wide settings
 * @param trustBundle the roots peers must chain to
 * @param clusters every service this sidecar may call
 * @param routes rules per service, first match wins; a service without entry has {@link RouteRule#catchAll()}
 * @param inbound what to enforce on callers
 * @param subscriptions the Kafka subscriptions this sidecar delivers to its app
 * @param publish the topics the app may publish to
 */
public record RoutingTable(long version, MeshSettings mesh, TrustBundle trustBundle, Map<ServiceName, Cluster> clusters,
        Map<ServiceName, List<RouteRule>> routes, InboundPolicy inbound, List<Subscription> subscriptions,
        PublishPolicy publish) {
    /** Copies the collections. */
    public RoutingTable {
        clusters = Map.copyOf(clusters);
        routes = Map.copyOf(routes);
        subscriptions = List.copyOf(subscriptions);
    }

    /**
     * The cluster a request for {@code host} reaches. {@code host} is a service name, optionally with its
     * namespace and the Kubernetes suffixes ({@code inventory}, {@code inventory.default},
     * {@code inventory.default.svc}, {@code inventory.default.svc.cluster.local}); without a namespace it
     * means the caller's own namespace.
     */
    public Optional<Cluster> resolve(String host, String callerNamespace) {
        String name = host.toLowerCase(java.util.Locale.ROOT);
        if (name.endsWith(".")) {
            // A fully qualified name's root label: inventory.default.svc.cluster.local. is the same service.
            name = name.substring(0, name.length() - 1);
        }
        String suffix = ".svc." + mesh.trustDomain();
        if (name.endsWith(suffix)) {
            name = name.substring(0, name.length() - suffix.length());
        } else if (name.endsWith(".svc")) {
            name = name.substring(0, name.length() - 4);
        }
        int dot = name.indexOf('.');
        ServiceName key = dot < 0 ? new ServiceName(name, callerNamespace)
                : new ServiceName(name.substring(0, dot), name.substring(dot + 1));
        return Optional.ofNullable(clusters.get(key));
    }

    /** The rules for {@code service}, first match wins. */
    public List<RouteRule> rulesFor(ServiceName service) {
        return routes.getOrDefault(service, List.of(RouteRule.catchAll()));
    }
}
