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
 */
public record Cluster(ServiceName name, boolean external, boolean externalTls, String sni, List<Endpoint> endpoints,
        ClusterPolicy policy) {
    /** Copies the endpoints. */
    public Cluster {
        endpoints = List.copyOf(endpoints);
    }

    /** The cluster's timeouts. */
    public Timeouts timeouts() {
        return policy.timeouts();
    }
}
