package io.trellis.controlplane.compile;

import io.trellis.controlplane.resource.AuthorizationPolicySpec;
import io.trellis.controlplane.resource.ExternalServiceSpec;
import io.trellis.controlplane.resource.MeshConfigSpec;
import io.trellis.controlplane.resource.RouteSpec;
import io.trellis.controlplane.resource.SubscriptionSpec;
import io.trellis.controlplane.resource.TrafficPolicySpec;
import java.util.List;
import java.util.Map;

/**
 * Everything one sidecar needs, compiled and with every default resolved: what it may call (clusters
 * and routes), what it enforces for its own service (inbound), its subscriptions and the trust bundle.
 * Records all the way down, so two compilations of the same inputs are {@code equals} and an unchanged
 * snapshot need not be pushed again.
 */
public record ProxySnapshot(MeshConfigSpec mesh, List<String> trustBundlePem, List<Cluster> clusters,
        List<ServiceRoutes> routes, Inbound inbound, List<Subscription> subscriptions, Publish publish) {
    /** Copies lists. */
    public ProxySnapshot {
        trustBundlePem = List.copyOf(trustBundlePem);
        clusters = List.copyOf(clusters);
        routes = List.copyOf(routes);
        subscriptions = List.copyOf(subscriptions);
    }

    /** A callable service: its endpoints and the traffic policy callers apply (its opaque-TCP ports among them). */
    public record Cluster(String service, String namespace, ExternalServiceSpec.Tls externalTls,
            List<Endpoint> endpoints, TrafficPolicySpec policy, List<String> virtualAddresses) {
        /** Copies the lists. */
        public Cluster {
            endpoints = List.copyOf(endpoints);
            virtualAddresses = List.copyOf(virtualAddresses);
        }

        /** A cluster without virtual addresses. */
        public Cluster(String service, String namespace, ExternalServiceSpec.Tls externalTls, List<Endpoint> endpoints,
                TrafficPolicySpec policy) {
            this(service, namespace, externalTls, endpoints, policy, List.of());
        }

        /** True for an ExternalService (endpoints without sidecars). */
        public boolean external() {
            return externalTls != null;
        }
    }

    /**
     * One endpoint; {@code identity} is the SPIFFE ID its sidecar must prove (null for external), {@code tunnelPort}
     * its sidecar's opaque-TCP listener (0 for none, and for external endpoints).
     */
    public record Endpoint(String address, int port, int tunnelPort, String identity, Map<String, String> labels, int weight) {
        /** Copies labels. */
        public Endpoint {
            labels = Map.copyOf(labels);
        }
    }

    /** The route rules for calls to one service, in evaluation order. */
    public record ServiceRoutes(String service, String namespace, List<NamedRule> rules) {
        /** Copies rules. */
        public ServiceRoutes {
            rules = List.copyOf(rules);
        }
    }

    /** A rule named {@code <route>/<index>}. */
    public record NamedRule(String name, RouteSpec.Rule rule) {
    }

    /**
     * What the sidecar enforces on calls to its own service; {@code tcpPorts} are the app ports callers may reach as
     * opaque TCP.
     */
    public record Inbound(List<NamedAuthorization> authorization, TrafficPolicySpec.RateLimit rateLimit,
            List<Integer> tcpPorts) {
        /** Copies lists. */
        public Inbound {
            authorization = List.copyOf(authorization);
            tcpPorts = List.copyOf(tcpPorts);
        }
    }

    /** An authorization policy with its resource name. */
    public record NamedAuthorization(String name, AuthorizationPolicySpec spec) {
    }

    /** A subscription with its resource name. */
    public record Subscription(String name, SubscriptionSpec spec) {
    }

    /**
     * The topics this proxy's app may publish to: a topic matching {@code allowed} may be, else one matching
     * {@code restricted} may not, else it may (patterns are names or prefixes ending in {@code *}).
     */
    public record Publish(List<String> restricted, List<String> allowed) {
        /** Copies lists. */
        public Publish {
            restricted = List.copyOf(restricted);
            allowed = List.copyOf(allowed);
        }
    }
}
