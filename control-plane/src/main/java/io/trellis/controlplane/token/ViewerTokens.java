package io.trellis.controlplane.token;

import io.trellis.controlplane.store.Change;
import io.trellis.controlplane.store.PolicyStore;
import io.trellis.controlplane.store.ViewerToken;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * Read-only API tokens: minted and revoked by an admin, presented as {@code Authorization: Bearer
 * trellis-vt.<id>.<secret>} by dashboards and monitoring jobs that may read the mesh but not change it.
 * The store keeps only the secret's SHA-256.
 */
public final class ViewerTokens {
    private static final String PREFIX = "trellis-vt.";
    /** Longest lifetime a viewer token may be minted with. */
    public static final Duration MAX_TTL = Duration.ofDays(365);

    private final PolicyStore store;
    private final Clock clock;

    /** Creates the registry of viewer tokens over {@code store}. */
    public ViewerTokens(PolicyStore store, Clock clock) {
        this.store = store;
        this.clock = clock;
    }

    /** A minted viewer token: {@code token} is the only time the secret is ever shown. */
    public record Minted(String id, String token, String name, Instant expiresAt) {
        @Override
        public String toString() {
            return "Minted[id=" + id + ", name=" + name + ", expiresAt=" + expiresAt + ", token=<redacted>]";
        }
    }

    /** A viewer token as the API lists it (no secret, no hash). */
    public record Listed(String id, String name, Instant createdAt, Instant expiresAt) {
    }

    /** Mints a token named {@code name} valid for {@code ttl}. */
    public Minted mint(String name, Duration ttl) {
        TokenSecret secret = TokenSecret.generate();
        Instant now = clock.instant();
        Instant expiresAt = now.plus(ttl);
        store.commit(new Change.MintViewerToken(new ViewerToken(secret.id(), secret.sha256(), name, now, expiresAt)));
        return new Minted(secret.id(), secret.text(PREFIX), name, expiresAt);
    }

    /**
     * Revokes the token {@code id}.
     *
     * @throws io.trellis.controlplane.store.NotFoundException when there is no such token
     */
    public void revoke(String id) {
        store.commit(new Change.RevokeViewerToken(id));
    }

    /** Every token that has not expired, oldest first. */
    public List<Listed> list() {
        Instant now = clock.instant();
        return store.state().viewerTokens().values().stream()
                .filter(t -> !t.expired(now))
                .map(t -> new Listed(t.id(), t.name(), t.createdAt(), t.expiresAt()))
                .toList();
    }

    /** True when {@code presented} looks like a viewer token (whether or not it is valid). */
    public static boolean looksLikeOne(String presented) {
        return presented != null && presented.startsWith(PREFIX);
    }

    /**
     * Checks {@code presented}.
     *
     * @throws TokenRejectedException when it is malformed, unknown, wrong, revoked or expired
     */
    public void authenticate(String presented) throws TokenRejectedException {
        TokenSecret secret = TokenSecret.parse(PREFIX, presented).orElseThrow(
                () -> new TokenRejectedException("viewer token is malformed (expected trellis-vt.<id>.<secret>)"));
        ViewerToken stored = store.state().viewerTokens().get(secret.id());
        if (stored == null || !secret.matches(stored.secretSha256())) {
            throw new TokenRejectedException("viewer token " + secret.id() + " is not valid (unknown or revoked)");
        }
        if (stored.expired(clock.instant())) {
            throw new TokenRejectedException("viewer token " + secret.id() + " expired at " + stored.expiresAt());
        }
    }
}
