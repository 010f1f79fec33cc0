package io.trellis.controlplane;

import io.micronaut.scheduling.annotation.Scheduled;
import io.trellis.controlplane.ca.CaRotationCoordinator;
import io.trellis.controlplane.push.ServerIdentity;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Periodic work: CA rotation steps and renewal of the control plane's own certificate. */
@Singleton
final class MaintenanceTasks {
    private static final Logger LOG = LoggerFactory.getLogger(MaintenanceTasks.class);
    private final CaRotationCoordinator rotation;
    private final ServerIdentity identity;

    MaintenanceTasks(CaRotationCoordinator rotation, ServerIdentity identity) {
        this.rotation = rotation;
        this.identity = identity;
    }

    @Scheduled(fixedDelay = "1s", initialDelay = "1s")
    void run() {
        try {
            rotation.tick();
            identity.renewIfDue();
        } catch (RuntimeException e) {
            LOG.error("maintenance step failed; retried in 1s", e);
        }
    }
}
