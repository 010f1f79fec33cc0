package io.trellis.certs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.cert.CertPath;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.CertificateParsingException;
import java.security.cert.PKIXParameters;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;

/**
 * Decides whether a peer's certificate chain proves a mesh identity: the chain must lead to a root in
 * the trust bundle and be valid now, and the leaf must be a non-CA certificate with the extended key
 * usage for the peer's role and exactly one URI SAN holding a valid SPIFFE ID in the bundle's trust
 * domain. DNS SANs and the subject are never taken as the identity. Stateless and thread-safe.
 */
public final class PeerCertificateVerifier {
    private static final String SUBJECT_ALT_NAME = "2.5.29.17";
    private static final String EKU_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
    private static final String EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

    /** The role the peer plays in the TLS connection; its leaf must carry the matching EKU. */
    public enum PeerRole {
        /** The peer is the TLS client (needs clientAuth). */
        CLIENT(EKU_CLIENT_AUTH, "clientAuth"),
        /** The peer is the TLS server (needs serverAuth). */
        SERVER(EKU_SERVER_AUTH, "serverAuth");

        private final String oid;
        private final String label;

        PeerRole(String oid, String label) {
            this.oid = oid;
            this.label = label;
        }
    }

    private PeerCertificateVerifier() {
    }

    /**
     * Verifies {@code chain} (leaf first) and returns the identity it proves.
     *
     * @throws PeerVerificationException naming the failed check
     */
    public static SpiffeId verify(List<X509Certificate> chain, TrustBundle bundle, PeerRole role, Instant now)
            throws PeerVerificationException {
        if (chain == null || chain.isEmpty()) {
            throw new PeerVerificationException("peer presented no certificate");
        }
        X509Certificate leaf = chain.get(0);
        checkValidity(leaf, now);
        if (leaf.getBasicConstraints() >= 0) {
            throw new PeerVerificationException("peer leaf certificate is a CA certificate (CA:true)");
        }
        checkExtendedKeyUsage(leaf, role);
        SpiffeId identity = uriSanIdentity(leaf);
        if (!identity.trustDomain().equals(bundle.trustDomain())) {
            throw new PeerVerificationException("peer identity " + identity + " is not in trust domain "
                    + bundle.trustDomain());
        }
        validatePath(chain, bundle, now);
        return identity;
    }

    /**
     * Verifies {@code chain} as {@link #verify} does and additionally requires the identity to be exactly
     * {@code expected}.
     */
    public static SpiffeId verifyIdentity(List<X509Certificate> chain, TrustBundle bundle, PeerRole role,
            Instant now, SpiffeId expected) throws PeerVerificationException {
        SpiffeId identity = verify(chain, bundle, role, now);
        if (!identity.equals(expected)) {
            throw new PeerVerificationException("peer identity " + identity + " is not the expected " + expected);
        }
        return identity;
    }

    /**
     * The SPIFFE ID in a leaf's single URI SAN, without checking the chain. For reading the identity of
     * a peer whose chain the TLS handshake has already verified.
     */
    public static SpiffeId uriSanIdentity(X509Certificate leaf) throws PeerVerificationException {
        List<String> uris = uriSans(leaf);
        if (uris.isEmpty()) {
            throw new PeerVerificationException("peer certificate has no URI SAN (a DNS SAN or subject is not an identity)");
        }
        if (uris.size() > 1) {
            throw new PeerVerificationException("peer certificate has " + uris.size() + " URI SANs (expected exactly 1)");
        }
        try {
            return SpiffeId.parse(uris.get(0));
        } catch (InvalidSpiffeIdException e) {
            throw new PeerVerificationException("peer URI SAN is not a valid SPIFFE ID: " + e.getMessage(), e);
        }
    }

    /**
     * Every URI SAN, read from the raw extension. The JDK's own accessor silently drops URIs that
     * java.net.URI cannot parse (a NUL suffix, say), which would let a second, malformed URI SAN hide.
     */
    private static List<String> uriSans(X509Certificate leaf) throws PeerVerificationException {
        byte[] extension = leaf.getExtensionValue(SUBJECT_ALT_NAME);
        List<String> uris = new ArrayList<>();
        if (extension == null) {
            return uris;
        }
        try {
            Der.Element octets = Der.read(extension);
            Der.Element names = Der.read(octets.contents());
            if (octets.tag() != Der.OCTET_STRING || names.tag() != Der.SEQUENCE) {
                throw new IOException("subjectAltName is not an OCTET STRING holding a SEQUENCE");
            }
            for (Der.Element name : names.children()) {
                if (name.tag() == Der.URI_NAME) {
                    uris.add(new String(name.contents(), StandardCharsets.ISO_8859_1));
                } else if (name.tag() == Der.URI_NAME_CONSTRUCTED) {
                    throw new IOException("a constructed URI name");
                }
            }
        } catch (IOException e) {
            throw new PeerVerificationException("peer certificate has a malformed subjectAltName", e);
        }
        return uris;
    }

    private static void checkValidity(X509Certificate leaf, Instant now) throws PeerVerificationException {
        try {
            leaf.checkValidity(Date.from(now));
        } catch (CertificateExpiredException e) {
            throw new PeerVerificationException("peer certificate expired at " + leaf.getNotAfter().toInstant());
        } catch (CertificateNotYetValidException e) {
            throw new PeerVerificationException("peer certificate is not valid before " + leaf.getNotBefore().toInstant());
        }
    }

    private static void checkExtendedKeyUsage(X509Certificate leaf, PeerRole role) throws PeerVerificationException {
        List<String> usages;
        try {
            usages = leaf.getExtendedKeyUsage();
        } catch (CertificateParsingException e) {
            throw new PeerVerificationException("peer certificate has a malformed extendedKeyUsage", e);
        }
        if (usages == null || !usages.contains(role.oid)) {
            throw new PeerVerificationException("peer certificate lacks the " + role.label + " extended key usage");
        }
    }

    private static void validatePath(List<X509Certificate> chain, TrustBundle bundle, Instant now)
            throws PeerVerificationException {
        // The path handed to PKIX must not contain the anchor itself.
        List<X509Certificate> path = new ArrayList<>(chain);
        path.removeIf(bundle.roots()::contains);
        if (path.isEmpty()) {
            throw new PeerVerificationException("peer presented a trust anchor as its own certificate");
        }
        try {
            CertPath certPath = CertificateFactory.getInstance("X.509").generateCertPath(path);
            PKIXParameters parameters = new PKIXParameters(bundle.trustAnchors());
            parameters.setRevocationEnabled(false);
            parameters.setDate(Date.from(now));
            CertPathValidator.getInstance("PKIX").validate(certPath, parameters);
        } catch (CertPathValidatorException e) {
            throw new PeerVerificationException("peer certificate does not chain to the "
                    + bundle.trustDomain() + " trust bundle (" + e.getReason() + ")", e);
        } catch (GeneralSecurityException e) {
            throw new PeerVerificationException("peer certificate chain cannot be validated: " + e.getMessage(), e);
        }
    }
}
