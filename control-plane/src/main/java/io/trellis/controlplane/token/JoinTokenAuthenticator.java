package io.trellis.controlplane.token;

import io.trellis.certs.SpiffeId;
import io.trellis.controlplane.store.Change;
import io.trellis.controlplane.store.ConflictException;
import io.trellis.controlplane.store.JoinToken;
import io.trellis.controlplane.store.MeshState;
import io.trellis.controlplane.store.PolicyStore;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Mints join tokens bound to one identity and authenticates them at enrolment. A token reads
 * {@code trellis-jt.<id>.<secret>}; the store keeps only the secret's SHA-256, compared in constant
 * time. Single-use tokens are spent through the store, so two concurrent uses cannot both succeed.
 */
public final class JoinTokenAuthenticator {
    private static final String PREFIX = "trellis-jt.";
    private static final SecureRandom RANDOM = new SecureRandom();
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
        byte[] idBytes = new byte[6];
        byte[] secretBytes = new byte[32];
        RANDOM.nextBytes(idBytes);
        RANDOM.nextBytes(secretBytes);
        String id = HexFormat.of().formatHex(idBytes);
        String secret = Base64.getUrlEncoder().withoutPadding().encodeToString(secretBytes);
        Instant now = clock.instant();
        Instant expiresAt = now.plus(ttl);
        store.commit(new Change.MintToken(new JoinToken(id, sha256(secret), namespace, serviceAccount, now, expiresAt,
                singleUse, false)));
        return new MintedToken(id, PREFIX + id + "." + secret, identity.toString(), expiresAt, singleUse);
    }

    /**
     * The identity {@code token} is bound to; a single-use token is spent by this call.
     *
     * @throws TokenRejectedException when the token is malformed, unknown, wrong, expired or spent
     */
    public SpiffeId authenticate(String token) throws TokenRejectedException {
        if (token == null || !token.startsWith(PREFIX)) {
            throw new TokenRejectedException("join token is malformed (expected trellis-jt.<id>.<secret>)");
        }
        String rest = token.substring(PREFIX.length());
        int dot = rest.indexOf('.');
        if (dot <= 0) {
            throw new TokenRejectedException("join token is malformed (expected trellis-jt.<id>.<secret>)");
        }
        String id = rest.substring(0, dot);
        MeshState state = store.state();
        JoinToken stored = state.tokens().get(id);
        if (stored == null || !MessageDigest.isEqual(stored.secretSha256().getBytes(StandardCharsets.US_ASCII),
                sha256(rest.substring(dot + 1)).getBytes(StandardCharsets.US_ASCII))) {
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

    static String sha256(String secret) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(secret.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
