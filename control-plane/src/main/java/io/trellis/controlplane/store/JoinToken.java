package io.trellis.controlplane.store;

import java.time.Instant;

/**
 * A join token as the store keeps it: only the SHA-256 of its secret is stored, never the secret.
 * Bound to one identity (namespace + service account).
 */
public record JoinToken(String id, String secretSha256, String namespace, String serviceAccount, Instant createdAt,
        Instant expiresAt, boolean singleUse, boolean used) {
    /** True when the token can no longer authenticate anyone at {@code now}. */
    public boolean spentOrExpired(Instant now) {
        return !now.isBefore(expiresAt) || (singleUse && used);
    }

    JoinToken markUsed() {
        return new JoinToken(id, secretSha256, namespace, serviceAccount, createdAt, expiresAt, singleUse, true);
    }
}
