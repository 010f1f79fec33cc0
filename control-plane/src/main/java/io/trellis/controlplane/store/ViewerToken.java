package io.trellis.controlplane.store;

import java.time.Instant;

/**
 * A read-only API token as the store keeps it: only the SHA-256 of its secret, never the secret.
 * {@code name} says who holds it (a dashboard, a monitoring job) so an operator knows what to revoke.
 */
public record ViewerToken(String id, String secretSha256, String name, Instant createdAt, Instant expiresAt) {
    /** True when the token no longer authenticates anyone at {@code now}. */
    public boolean expired(Instant now) {
        return !now.isBefore(expiresAt);
    }
}
