package io.trellis.controlplane;

import io.micronaut.scheduling.annotation.Scheduled;
import io.trellis.controlplane.ca.CaRotationCoordinator;
import io.trellis.controlplane.push.ServerIdentity;
import io.trellis.controlplane.registry.ProxyRegistry;
import jakarta.inject.Singleton;
import java.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Periodic work: CA rotation steps, renewal of the control plane's own certificate, and the end of the
 * registry's recovery grace period.
 */
@Singleton
final class MaintenanceTasks {
    private static final Logger LOG = LoggerFactory.getLogger(MaintenanceTasks.class);
    private final CaRotationCoordinator rotation;
    private final ServerIdentity identity;
    private final ProxyRegistry registry;
    private final Clock clock;

    MaintenanceTasks(CaRotationCoordinator rotation, ServerIdentity identity, ProxyRegistry registry, Clock clock) {
        this.rotation = rotation;
        this.identity = identity;
        this.registry = registry;
        this.clock = clock;
    }

    @Scheduled(fixedDelay = "1s", initialDelay = "1s")
    void run() {
        try {
            rotation.tick();
            identity.renewIfDue();
            registry.expireRecovered(clock.instant());
        } catch (RuntimeException e) {
            LOG.error("maintenance step failed; retried in 1s", e);
        }
    }
}
