package io.trellis.certs;

import java.security.cert.CertificateException;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The roots a trust domain's certificates chain to. Holds several roots during a CA rotation (old and
 * new trusted side by side). Immutable: rotation builds a new bundle with {@link #with} / {@link #without}.
 */
public record TrustBundle(String trustDomain, List<X509Certificate> roots) {
    /** Validates the trust domain and copies the roots; at least one root is required. */
    public TrustBundle {
        SpiffeId.validateTrustDomain(trustDomain);
        roots = List.copyOf(new LinkedHashSet<>(roots));
        if (roots.isEmpty()) {
            throw new IllegalArgumentException("roots: empty (expected at least one CA certificate)");
        }
    }

    /** Parses a bundle from concatenated PEM certificates. */
    public static TrustBundle fromPem(String trustDomain, String pem) throws CertificateException {
        return new TrustBundle(trustDomain, Pem.decodeCertificates(pem));
    }

    /** A bundle that also trusts {@code root} (no-op when already present). */
    public TrustBundle with(X509Certificate root) {
        List<X509Certificate> next = new ArrayList<>(roots);
        next.add(root);
        return new TrustBundle(trustDomain, next);
    }

    /** A bundle that no longer trusts {@code root}. */
    public TrustBundle without(X509Certificate root) {
        List<X509Certificate> next = new ArrayList<>(roots);
        next.remove(root);
        return new TrustBundle(trustDomain, next);
    }

    /** The roots as concatenated PEM. */
    public String toPem() {
        return Pem.encodeCertificates(roots);
    }

    /** The roots as PKIX trust anchors. */
    Set<TrustAnchor> trustAnchors() {
        Set<TrustAnchor> anchors = new LinkedHashSet<>();
        for (X509Certificate root : roots) {
            anchors.add(new TrustAnchor(root, null));
        }
        return anchors;
    }
}
