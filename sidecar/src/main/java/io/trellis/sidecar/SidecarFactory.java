package io.trellis.sidecar;

import io.micronaut.context.annotation.Bean;
import io.micronaut.context.annotation.Context;
import io.micronaut.context.annotation.Factory;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.time.Clock;

/** Micronaut wiring: the configuration is bound and validated by Micronaut, then the sidecar starts eagerly. */
@Factory
final class SidecarFactory {
    /** Wall-clock time for certificates and renewal; tests may replace the bean. */
    @Singleton
    Clock clock() {
        return Clock.systemUTC();
    }

    /** The running sidecar; drained and stopped when the context closes. */
    @Context
    @Bean(preDestroy = "close")
    Sidecar sidecar(SidecarConfig config, Clock clock) throws IOException, GeneralSecurityException {
        return Sidecar.start(config, clock);
    }
}
