package io.trellis.sidecar.config;

import io.trellis.certs.SpiffeId;
import java.util.Map;

/**
 * One instance of a cluster: where to connect and who must answer.
 *
 * @param address host or IP of the peer sidecar's inbound listener (or of an external endpoint)
 * @param port its port
 * @param tunnelPort the peer sidecar's opaque-TCP listener on {@code address}; 0 when it has none (and for external
 *     endpoints)
 * @param identity the SPIFFE ID the peer must prove (exact URI-SAN match); null for external endpoints
 * @param labels the instance's labels, for subsets
 * @param weight relative weight, at least 1
 */
public record Endpoint(String address, int port, int tunnelPort, SpiffeId identity, Map<String, String> labels, int weight) {
    /** Copies the labels. */
    public Endpoint {
        labels = Map.copyOf(labels);
    }

    /** True when every entry of {@code subset} is among this endpoint's labels. */
    public boolean matches(Map<String, String> subset) {
        return labels.entrySet().containsAll(subset.entrySet());
    }

    /** {@code address:port}, for logs and errors. */
    public String authority() {
        return address.indexOf(':') >= 0 ? "[" + address + "]:" + port : address + ":" + port;
    }

    /** An endpoint whose sidecar has no opaque-TCP listener. */
    public static Endpoint of(String address, int port, SpiffeId identity, Map<String, String> labels, int weight) {
        return new Endpoint(address, port, 0, identity, labels, weight);
    }
}
