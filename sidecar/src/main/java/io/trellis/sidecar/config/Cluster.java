package io.trellis.sidecar.config;

import java.util.List;

/**
 * A service this sidecar may call, with its endpoints and policy.
 *
 * @param name the service
 * @param external true for an ExternalService (endpoints are not sidecars: no mesh mTLS)
 * @param externalTls for external clusters: whether to use TLS (verified against the system trust store)
 * @param sni for external clusters with TLS: the server name to send, or empty for the endpoint address
 * @param endpoints every known endpoint
 * @param policy timeouts, retries, limits, outlier detection, breaker and balancer
 * @param tcpPorts the service's declared opaque-TCP ports, in declaration order (the first is the default target)
 * @param virtualAddresses the service's virtual IPs (Kubernetes ClusterIPs): an app's redirected connection to one
 *     is for this service
 */
public record Cluster(ServiceName name, boolean external, boolean externalTls, String sni, List<Endpoint> endpoints,
        ClusterPolicy policy, List<Integer> tcpPorts, List<String> virtualAddresses) {
    /** Copies the lists. */
    public Cluster {
        endpoints = List.copyOf(endpoints);
        tcpPorts = List.copyOf(tcpPorts);
        virtualAddresses = List.copyOf(virtualAddresses);
    }

    /** A cluster that declares no opaque-TCP port and has no virtual address. */
    public Cluster(ServiceName name, boolean external, boolean externalTls, String sni, List<Endpoint> endpoints,
            ClusterPolicy policy) {
        this(name, external, externalTls, sni, endpoints, policy, List.of(), List.of());
    }

    /** The cluster's timeouts. */
    public Timeouts timeouts() {
        return policy.timeouts();
    }
}
