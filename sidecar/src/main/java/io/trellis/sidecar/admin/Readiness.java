package io.trellis.sidecar.admin;

import io.trellis.sidecar.config.RoutingTableRef;
import io.trellis.sidecar.identity.WorkloadIdentity;
import java.util.Optional;

/**
 * Whether this sidecar should receive traffic: it must hold a valid certificate and have applied a snapshot,
 * and must not be draining. Thread-safe.
 */
public final class Readiness {
    private final WorkloadIdentity identity;
    private final RoutingTableRef tables;
    private volatile boolean draining;

    /** Readiness over {@code identity} and {@code tables}. */
    public Readiness(WorkloadIdentity identity, RoutingTableRef tables) {
        this.identity = identity;
        this.tables = tables;
    }

    /** Why the sidecar is not ready, or empty when it is. */
    public Optional<String> notReadyReason() {
        if (draining) {
            return Optional.of("draining: shutting down");
        }
        if (!identity.isIssued()) {
            return Optional.of("no valid certificate yet");
        }
        if (tables.current().isEmpty()) {
            return Optional.of("no configuration from the control plane yet");
        }
        return Optional.empty();
    }

    /** From now on the sidecar reports not ready. */
    public void startDraining() {
        draining = true;
    }
}
