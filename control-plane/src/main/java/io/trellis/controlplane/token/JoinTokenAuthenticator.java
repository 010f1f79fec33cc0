package io.trellis.controlplane.token;

import io.trellis.certs.SpiffeId;
import io.trellis.controlplane.store.Change;
import io.trellis.controlplane.store.ConflictException;
import io.trellis.controlplane.store.JoinToken;
import io.trellis.controlplane.store.MeshState;
import io.trellis.controlplane.store.PolicyStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * Mints join tokens bound to one identity and authenticates them at enrolment. A token reads
 * {@code trellis-jt.<id>.<secret>}; the store keeps only the secret's SHA-256, compared in constant
 * time. Single-use tokens are spent through the store, so two concurrent uses cannot both succeed.
 */
public final class JoinTokenAuthenticator {
    private static final String PREFIX = "trellis-jt.";
    /** Longest lifetime a join token may be minted with. */
    public static final Duration MAX_TTL = Duration.ofDays(30);

    private final PolicyStore store;
    private final Clock clock;

    /** Creates the authenticator. */
    public JoinTokenAuthenticator(PolicyStore store, Clock clock) {
        this.store = store;
        this.clock = clock;
    }

    /** Mints a token for {@code namespace}/{@code serviceAccount} valid for {@code ttl}. */
    public MintedToken mint(String namespace, String serviceAccount, Duration ttl, boolean singleUse) {
        MeshState state = store.state();
        SpiffeId identity = SpiffeId.forWorkload(state.meshConfig().trustDomain(), namespace, serviceAccount);
        TokenSecret secret = TokenSecret.generate();
        Instant now = clock.instant();
        Instant expiresAt = now.plus(ttl);
        store.commit(new Change.MintToken(new JoinToken(secret.id(), secret.sha256(), namespace, serviceAccount, now,
                expiresAt, singleUse, false)));
        return new MintedToken(secret.id(), secret.text(PREFIX), identity.toString(), expiresAt, singleUse);
    }

    /**
     * The identity {@code token} is bound to; a single-use token is spent by this call.
     *
     * @throws TokenRejectedException when the token is malformed, unknown, wrong, expired or spent
     */
    public SpiffeId authenticate(String token) throws TokenRejectedException {
        TokenSecret presented = TokenSecret.parse(PREFIX, token).orElseThrow(
                () -> new TokenRejectedException("join token is malformed (expected trellis-jt.<id>.<secret>)"));
        String id = presented.id();
        MeshState state = store.state();
        JoinToken stored = state.tokens().get(id);
        if (stored == null || !presented.matches(stored.secretSha256())) {
            throw new TokenRejectedException("join token " + id + " is not valid");
        }
        Instant now = clock.instant();
        if (!now.isBefore(stored.expiresAt())) {
            throw new TokenRejectedException("join token " + id + " expired at " + stored.expiresAt());
        }
        if (stored.singleUse()) {
            try {
                store.commit(new Change.UseToken(id));
            } catch (ConflictException e) {
                throw new TokenRejectedException("join token " + id + " is single-use and was already used");
            }
        }
        return SpiffeId.forWorkload(state.meshConfig().trustDomain(), stored.namespace(), stored.serviceAccount());
    }
}
