package io.trellis.certs;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * A private key with its certificate chain (leaf first). Immutable; holders swap whole instances when
 * a certificate is renewed. {@link #toString()} never prints the key.
 */
public record KeyMaterial(PrivateKey privateKey, List<X509Certificate> chain) {
    /** Validates that a key and a non-empty chain are present and copies the chain. */
    public KeyMaterial {
        Objects.requireNonNull(privateKey, "privateKey");
        chain = List.copyOf(chain);
        if (chain.isEmpty()) {
            throw new IllegalArgumentException("chain: empty (expected the leaf certificate first)");
        }
    }

    /** The leaf certificate. */
    public X509Certificate leaf() {
        return chain.get(0);
    }

    /** When the leaf expires. */
    public Instant notAfter() {
        return leaf().getNotAfter().toInstant();
    }

    /** When the leaf became valid. */
    public Instant notBefore() {
        return leaf().getNotBefore().toInstant();
    }

    /** The chain as PEM (leaf first). */
    public String chainPem() {
        return Pem.encodeCertificates(chain);
    }

    /** The private key as PKCS#8 PEM. Write it only with {@link OwnerOnlyFiles}. */
    public String privateKeyPem() {
        return Pem.encodePrivateKey(privateKey);
    }

    @Override
    public String toString() {
        return "KeyMaterial[leaf=" + leaf().getSubjectX500Principal() + ", serial=" + leaf().getSerialNumber().toString(16)
                + ", notAfter=" + notAfter() + ", key=<redacted>]";
    }
}
