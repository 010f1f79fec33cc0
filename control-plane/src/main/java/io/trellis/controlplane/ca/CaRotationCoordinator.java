package io.trellis.controlplane.ca;

import io.trellis.controlplane.registry.ProxyRegistry;
import io.trellis.controlplane.registry.ProxyStatus;
import io.trellis.controlplane.store.CaState;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * Moves a CA rotation forward (DESIGN.md §3): signing switches to the new root only once every connected
 * sidecar has acknowledged a trust bundle holding it, and the old root leaves the bundle once no leaf
 * it signed can still be valid (the certificate TTL plus clock-skew allowance after the switch).
 * {@link #tick()} is called periodically; decisions use the injected clock.
 */
public final class CaRotationCoordinator {
    private static final Duration SKEW = Duration.ofMinutes(5);

    private final MeshCertificateAuthority ca;
    private final ProxyRegistry registry;
    private final Clock clock;
    private final java.util.function.Supplier<Duration> certificateTtl;

    /** Creates the coordinator; {@code certificateTtl} reads the mesh's current leaf TTL. */
    public CaRotationCoordinator(MeshCertificateAuthority ca, ProxyRegistry registry, Clock clock,
            java.util.function.Supplier<Duration> certificateTtl) {
        this.ca = ca;
        this.registry = registry;
        this.clock = clock;
        this.certificateTtl = certificateTtl;
    }

    /** Takes whatever rotation step is due now, if any. */
    public void tick() {
        CaState state = ca.state();
        Instant now = clock.instant();
        if (state.rotating()) {
            String pending = ca.pendingRootFingerprint();
            boolean everyoneTrustsIt = registry.statuses().stream()
                    .map(ProxyStatus::ackedTrustRoots)
                    .allMatch(roots -> roots.contains(pending));
            if (everyoneTrustsIt) {
                ca.switchSigning(now.plus(certificateTtl.get()).plus(SKEW));
            }
        } else if (state.retiring() != null && !now.isBefore(state.retireAfter())) {
            ca.retire();
        }
    }
}
