package io.trellis.sidecar.config;

import java.time.Duration;

/**
 * Mesh-wide settings from the snapshot.
 *
 * @param trustDomain the trust domain every mesh identity belongs to
 * @param mtls whether the inbound listener also accepts plaintext
 * @param certificateTtl the lifetime the CA gives workload certificates
 * @param kafkaBootstrapServers the broker list, or empty when none is configured
 * @param registryOnly an app's redirected connections to destinations outside the mesh are refused (REGISTRY_ONLY)
 *     rather than passed through (ALLOW_ANY)
 */
public record MeshSettings(String trustDomain, MtlsMode mtls, Duration certificateTtl, String kafkaBootstrapServers,
        boolean registryOnly) {
    /** How the inbound listener treats callers without TLS. */
    public enum MtlsMode {
        /** Only mTLS callers with a mesh certificate. */
        STRICT,
        /** Plaintext callers are accepted too (they have no identity, so identity-based policy denies them). */
        PERMISSIVE
    }
}
