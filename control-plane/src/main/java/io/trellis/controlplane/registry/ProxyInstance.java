package io.trellis.controlplane.registry;

import io.trellis.certs.SpiffeId;
import java.time.Instant;
import java.util.Map;

/**
 * A connected sidecar as it introduced itself in Hello, with the identity its client certificate
 * proved. Immutable.
 *
 * @param tunnelPort its opaque-TCP listener on {@code address}; 0 when it has none
 */
public record ProxyInstance(String nodeId, String service, String namespace, SpiffeId identity, String address,
        int inboundPort, int tunnelPort, Map<String, String> labels, String proxyVersion, Instant connectedSince) {
    /** Copies labels. */
    public ProxyInstance {
        labels = Map.copyOf(labels);
    }
}
