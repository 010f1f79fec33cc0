package io.trellis.controlplane.token;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;

/**
 * The shape every minted API token shares: {@code <prefix><id>.<secret>}, a random 48-bit id that
 * names the token in the store and a random 256-bit secret of which the store keeps only the SHA-256.
 */
record TokenSecret(String id, String secret) {
    private static final SecureRandom RANDOM = new SecureRandom();

    /** A fresh id and secret. */
    static TokenSecret generate() {
        byte[] idBytes = new byte[6];
        byte[] secretBytes = new byte[32];
        RANDOM.nextBytes(idBytes);
        RANDOM.nextBytes(secretBytes);
        return new TokenSecret(HexFormat.of().formatHex(idBytes),
                Base64.getUrlEncoder().withoutPadding().encodeToString(secretBytes));
    }

    /** The id and secret of {@code token}, or empty when it is not {@code <prefix><id>.<secret>}. */
    static Optional<TokenSecret> parse(String prefix, String token) {
        if (token == null || !token.startsWith(prefix)) {
            return Optional.empty();
        }
        String rest = token.substring(prefix.length());
        int dot = rest.indexOf('.');
        if (dot <= 0 || dot == rest.length() - 1) {
            return Optional.empty();
        }
        return Optional.of(new TokenSecret(rest.substring(0, dot), rest.substring(dot + 1)));
    }

    /** The token as its holder presents it. */
    String text(String prefix) {
        return prefix + id + "." + secret;
    }

    /** The SHA-256 the store keeps, in hex. */
    String sha256() {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(secret.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** True when this secret hashes to {@code storedSha256} (constant-time comparison). */
    boolean matches(String storedSha256) {
        return MessageDigest.isEqual(storedSha256.getBytes(StandardCharsets.US_ASCII),
                sha256().getBytes(StandardCharsets.US_ASCII));
    }

    @Override
    public String toString() {
        return "TokenSecret[id=" + id + ", secret=<redacted>]";
    }
}
