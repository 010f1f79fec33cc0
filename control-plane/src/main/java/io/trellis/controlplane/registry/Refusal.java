package io.trellis.controlplane.registry;

import java.time.Instant;

/**
 * A registration the control plane refused (the Hello of a proxy whose identity may not serve the service it
 * announced, or whose address is not where it connects from), as {@code GET /api/v1/proxies} lists it.
 *
 * @param peerAddress the address the connection came from
 * @param reason the refusal, naming the Hello field
 */
public record Refusal(String nodeId, String service, String namespace, String identity, String address, String peerAddress,
        String reason, Instant at) {
}
