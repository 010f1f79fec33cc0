package io.trellis.controlplane.registry;

import java.util.List;

/**
 * A proxy and the state of its config stream: versions sent and acknowledged, the last rejection, and
 * the trust roots (by fingerprint) in the last snapshot it acknowledged.
 */
public record ProxyStatus(ProxyInstance instance, long lastSentVersion, long lastAckedVersion,
        String lastNackError, SyncState state, List<String> ackedTrustRoots) {
    /** Copies the roots. */
    public ProxyStatus {
        ackedTrustRoots = List.copyOf(ackedTrustRoots);
    }
}
