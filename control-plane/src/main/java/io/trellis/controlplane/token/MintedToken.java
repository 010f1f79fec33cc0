package io.trellis.controlplane.token;

import java.time.Instant;

/** A freshly minted join token: {@code token} is the only time the secret is ever shown. */
public record MintedToken(String id, String token, String identity, Instant expiresAt, boolean singleUse) {
    @Override
    public String toString() {
        return "MintedToken[id=" + id + ", identity=" + identity + ", expiresAt=" + expiresAt + ", token=<redacted>]";
    }
}
