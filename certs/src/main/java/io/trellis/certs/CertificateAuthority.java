package io.trellis.certs;

import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Objects;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.PKCSException;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;

/**
 * The mesh certificate authority: signs workload leaves (one URI SAN, EKU serverAuth+clientAuth,
 * CA:false) for an identity the caller has already authenticated. The identity a CSR asks for is
 * ignored; only its key (after proof of possession) is used. Immutable and thread-safe; rotation
 * creates a new instance.
 */
public final class CertificateAuthority {
    /** Default leaf lifetime (DESIGN.md §3). */
    public static final Duration DEFAULT_LEAF_TTL = Duration.ofHours(24);
    /** Lifetime of a self-generated root. */
    public static final Duration ROOT_VALIDITY = Duration.ofDays(3650);
    /** Leaves are back-dated this much so that peers with slightly slow clocks accept them at once. */
    static final Duration CLOCK_SKEW_ALLOWANCE = Duration.ofMinutes(1);

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String SIGNATURE_ALGORITHM = "SHA256withECDSA";

    private final KeyMaterial signer;
    private final Clock clock;

    private CertificateAuthority(KeyMaterial signer, Clock clock) {
        this.signer = signer;
        this.clock = clock;
    }

    /** Generates a new self-signed EC P-256 root valid for ten years. */
    public static CertificateAuthority generateRoot(String trustDomain, Clock clock) {
        SpiffeId.validateTrustDomain(trustDomain);
        KeyPair keyPair = CsrFactory.generateKeyPair();
        Instant now = clock.instant();
        X500Name name = new X500Name("O=Trellis,OU=" + trustDomain + ",CN=Trellis Root CA " + now.getEpochSecond());
        try {
            JcaX509ExtensionUtils utils = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(name, newSerial(),
                    Date.from(now.minus(CLOCK_SKEW_ALLOWANCE)), Date.from(now.plus(ROOT_VALIDITY)), name,
                    keyPair.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                    .addExtension(Extension.subjectKeyIdentifier, false,
                            utils.createSubjectKeyIdentifier(keyPair.getPublic()));
            X509Certificate root = sign(builder, keyPair.getPrivate());
            return new CertificateAuthority(new KeyMaterial(keyPair.getPrivate(), List.of(root)), clock);
        } catch (GeneralSecurityException | CertIOException e) {
            throw new IllegalStateException("cannot build a root certificate", e);
        }
    }

    /**
     * A CA that signs with operator-provided material: {@code signer.chain()} is the CA certificate
     * first, then any intermediates, ending at the root.
     *
     * @throws GeneralSecurityException when the certificate is not a CA, may not sign certificates, or
     *     does not match the key
     */
    public static CertificateAuthority fromKeyMaterial(KeyMaterial signer, Clock clock) throws GeneralSecurityException {
        X509Certificate certificate = signer.leaf();
        if (certificate.getBasicConstraints() < 0) {
            throw new GeneralSecurityException("CA certificate has CA:false (expected a CA certificate)");
        }
        boolean[] usage = certificate.getKeyUsage();
        if (usage != null && !usage[5]) {
            throw new GeneralSecurityException("CA certificate lacks the keyCertSign key usage");
        }
        requireKeyMatches(signer.privateKey(), certificate.getPublicKey());
        return new CertificateAuthority(signer, clock);
    }

    /**
     * Issues a workload certificate for {@code identity} to the key in {@code csrDer}.
     *
     * @param csrDer a DER PKCS#10 request; its subject and SANs are ignored
     * @param identity the identity established from the bootstrap credential
     * @param ttl requested lifetime; clamped so the leaf never outlives this CA
     * @throws InvalidCsrException when the CSR does not parse, its signature does not verify, or its key
     *     is not EC P-256
     */
    public IssuedCertificate issueWorkload(byte[] csrDer, SpiffeId identity, Duration ttl) throws InvalidCsrException {
        PublicKey key = verifiedCsrKey(csrDer);
        return issue(key, identity, List.of(), List.of(), ttl);
    }

    /**
     * Issues a certificate for a server the CA operates itself (the control plane's gRPC listener),
     * with the URI SAN {@code identity} plus DNS and IP SANs so that clients can check the host too.
     */
    public IssuedCertificate issueServer(PublicKey key, SpiffeId identity, List<String> dnsNames,
            List<InetAddress> addresses, Duration ttl) {
        return issue(key, identity, dnsNames, addresses, ttl);
    }

    private IssuedCertificate issue(PublicKey key, SpiffeId identity, List<String> dnsNames,
            List<InetAddress> addresses, Duration ttl) {
        Objects.requireNonNull(identity, "identity");
        if (ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("ttl: " + ttl + " (expected > 0)");
        }
        Instant now = clock.instant();
        Instant notAfter = now.plus(ttl);
        Instant caNotAfter = signer.notAfter();
        if (notAfter.isAfter(caNotAfter)) {
            notAfter = caNotAfter;
        }
        List<GeneralName> names = new ArrayList<>();
        names.add(new GeneralName(GeneralName.uniformResourceIdentifier, identity.toString()));
        for (String dns : dnsNames) {
            names.add(new GeneralName(GeneralName.dNSName, dns));
        }
        for (InetAddress address : addresses) {
            names.add(new GeneralName(GeneralName.iPAddress, address.getHostAddress()));
        }
        try {
            JcaX509ExtensionUtils utils = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(signer.leaf(), newSerial(),
                    Date.from(now.minus(CLOCK_SKEW_ALLOWANCE)), Date.from(notAfter),
                    new X500Name("O=" + identity.trustDomain()), key)
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.keyUsage, true,
                            new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement))
                    .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
                            new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}))
                    .addExtension(Extension.subjectAlternativeName, false,
                            new GeneralNames(names.toArray(GeneralName[]::new)))
                    .addExtension(Extension.subjectKeyIdentifier, false, utils.createSubjectKeyIdentifier(key))
                    .addExtension(Extension.authorityKeyIdentifier, false,
                            utils.createAuthorityKeyIdentifier(signer.leaf()));
            X509Certificate leaf = sign(builder, signer.privateKey());
            List<X509Certificate> chain = new ArrayList<>();
            chain.add(leaf);
            chain.addAll(signer.chain());
            return new IssuedCertificate(leaf, chain, identity);
        } catch (GeneralSecurityException | CertIOException e) {
            throw new IllegalStateException("cannot sign a certificate for " + identity, e);
        }
    }

    private static PublicKey verifiedCsrKey(byte[] csrDer) throws InvalidCsrException {
        if (csrDer == null || csrDer.length == 0) {
            throw new InvalidCsrException("CSR is empty");
        }
        try {
            JcaPKCS10CertificationRequest csr = new JcaPKCS10CertificationRequest(new PKCS10CertificationRequest(csrDer));
            PublicKey key = csr.getPublicKey();
            if (!(key instanceof ECPublicKey ec) || ec.getParams().getCurve().getField().getFieldSize() != 256) {
                throw new InvalidCsrException("CSR key is " + key.getAlgorithm() + " (expected EC P-256)");
            }
            if (!csr.isSignatureValid(new JcaContentVerifierProviderBuilder().build(key))) {
                throw new InvalidCsrException("CSR signature does not verify (no proof of possession)");
            }
            return key;
        } catch (IOException | IllegalArgumentException | ClassCastException e) {
            throw new InvalidCsrException("CSR is not a valid DER PKCS#10 request");
        } catch (GeneralSecurityException | OperatorCreationException | PKCSException e) {
            throw new InvalidCsrException("CSR signature cannot be checked: " + e.getMessage());
        }
    }

    private static void requireKeyMatches(PrivateKey key, PublicKey expected) throws GeneralSecurityException {
        byte[] probe = new byte[32];
        RANDOM.nextBytes(probe);
        String algorithm = key.getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256with" + key.getAlgorithm();
        java.security.Signature signature = java.security.Signature.getInstance(algorithm);
        signature.initSign(key);
        signature.update(probe);
        byte[] signed = signature.sign();
        signature.initVerify(expected);
        signature.update(probe);
        if (!signature.verify(signed)) {
            throw new GeneralSecurityException("CA private key does not match the CA certificate");
        }
    }

    private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey key) throws GeneralSecurityException {
        try {
            ContentSigner contentSigner = new JcaContentSignerBuilder(
                    key.getAlgorithm().equals("EC") ? SIGNATURE_ALGORITHM : "SHA256withRSA").build(key);
            return new JcaX509CertificateConverter().getCertificate(builder.build(contentSigner));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException("cannot create a signer for " + key.getAlgorithm(), e);
        }
    }

    /** A random positive 128-bit serial: unique with overwhelming probability and not guessable. */
    static BigInteger newSerial() {
        byte[] bytes = new byte[16];
        RANDOM.nextBytes(bytes);
        return new BigInteger(1, bytes);
    }

    /** The certificate this CA signs with. */
    public X509Certificate certificate() {
        return signer.leaf();
    }

    /** The root this CA's chain ends at: what peers must trust. */
    public X509Certificate root() {
        return signer.chain().get(signer.chain().size() - 1);
    }

    /** The signing key and chain, for persisting to key files (mode 0600). */
    public KeyMaterial keyMaterial() {
        return signer;
    }

    /** Names the signing certificate; never the key. */
    @Override
    public String toString() {
        return "CertificateAuthority[" + signer.leaf().getSubjectX500Principal() + "]";
    }
}
