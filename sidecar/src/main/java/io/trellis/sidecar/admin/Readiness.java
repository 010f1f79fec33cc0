package io.trellis.sidecar.admin;

import io.trellis.sidecar.config.RoutingTableRef;
import io.trellis.sidecar.identity.WorkloadIdentity;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Whether this sidecar should receive traffic: it must hold a valid certificate and have applied a snapshot,
 * and must not be draining. Thread-safe.
 */
public final class Readiness {
    private final WorkloadIdentity identity;
    private final RoutingTableRef tables;
    private final CompletableFuture<Void> ready = new CompletableFuture<>();
    private volatile boolean draining;

    /** Readiness over {@code identity} and {@code tables}. */
    public Readiness(WorkloadIdentity identity, RoutingTableRef tables) {
        this.identity = identity;
        this.tables = tables;
        identity.onInstall(this::checkFirstReady);
        tables.onPublish(table -> checkFirstReady());
        checkFirstReady();
    }

    /**
     * Completes the first time the sidecar is ready (a certificate and a configuration, restored from the state
     * directory or just received), on the thread that made it so.
     */
    public CompletionStage<Void> whenReady() {
        return ready;
    }

    private void checkFirstReady() {
        if (!ready.isDone() && notReadyReason().isEmpty()) {
            ready.complete(null);
        }
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
