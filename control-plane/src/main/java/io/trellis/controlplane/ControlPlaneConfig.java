package io.trellis.controlplane;

import io.micronaut.context.annotation.ConfigurationProperties;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.core.bind.annotation.Bindable;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The control plane's own settings ({@code trellis.*}), bound once at start.
 *
 * @param dataDir where the change log, CA keys and admin token live
 * @param grpcHost address the MeshControl gRPC listener binds to (loopback unless told otherwise)
 * @param grpcPort port of the MeshControl gRPC listener (TLS)
 * @param adminTokenFile where the admin bearer token is read from, or generated into on first start
 * @param caDir operator-provided CA ({@code ca-cert.pem}, {@code ca-key.pem}, optional {@code cert-chain.pem}); null = self-generated
 * @param serverNames extra DNS names for the control plane's gRPC certificate (localhost is always in)
 * @param pushDebounce how long changes are gathered before snapshots are recompiled
 * @param compactAfterEntries change-log entries between compactions
 * @param trustAnnouncedAddresses register proxies at the address they announce even when their control-plane
 *     connection comes from another one (proxies behind NAT); off by default, see {@code RegistrationPolicy}
 * @param readyFile written once both listeners serve (their addresses), removed at shutdown; null = none
 */
@ConfigurationProperties("trellis")
public record ControlPlaneConfig(
        @Bindable(defaultValue = ".trellis/control-plane") Path dataDir,
        @Bindable(defaultValue = "127.0.0.1") String grpcHost,
        @Bindable(defaultValue = "15010") int grpcPort,
        @Nullable Path adminTokenFile,
        @Nullable Path caDir,
        @Nullable List<String> serverNames,
        @Bindable(defaultValue = "100ms") Duration pushDebounce,
        @Bindable(defaultValue = "1000") int compactAfterEntries,
        @Bindable(defaultValue = "false") boolean trustAnnouncedAddresses,
        @Nullable Path readyFile) {

    /** Fills optional values. */
    public ControlPlaneConfig {
        serverNames = serverNames == null ? List.of() : List.copyOf(serverNames);
    }

    /** The admin token file: the configured one or {@code <dataDir>/admin-token}. */
    public Path effectiveAdminTokenFile() {
        return adminTokenFile != null ? adminTokenFile : dataDir.resolve("admin-token");
    }
}
