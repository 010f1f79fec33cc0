package io.trellis.certs;

import java.math.BigInteger;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Test-only builder for leaf certificates the real CA would never issue (two URI SANs, CA:true
 * leaves, missing EKUs, odd validity), signed by any CA, to prove that verification rejects them.
 */
public final class ForgedCertificate {
    private final CertificateAuthority signer;
    private final KeyPair keyPair = CsrFactory.generateKeyPair();
    private final List<String> uris = new ArrayList<>();
    private final List<String> dnsNames = new ArrayList<>();
    private boolean ca;
    private List<KeyPurposeId> usages = List.of(KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth);
    private Instant notBefore = Instant.now().minusSeconds(60);
    private Instant notAfter = Instant.now().plusSeconds(3600);

    private ForgedCertificate(CertificateAuthority signer) {
        this.signer = signer;
    }

    /** Starts a leaf signed by {@code signer}. */
    public static ForgedCertificate signedBy(CertificateAuthority signer) {
        return new ForgedCertificate(signer);
    }

    /** Adds a URI SAN (raw string, not validated). */
    public ForgedCertificate uri(String uri) {
        uris.add(uri);
        return this;
    }

    /** Adds a DNS SAN. */
    public ForgedCertificate dns(String name) {
        dnsNames.add(name);
        return this;
    }

    /** Marks the leaf CA:true. */
    public ForgedCertificate ca() {
        this.ca = true;
        return this;
    }

    /** Gives the leaf only the serverAuth extended key usage. */
    public ForgedCertificate serverAuthOnly() {
        this.usages = List.of(KeyPurposeId.id_kp_serverAuth);
        return this;
    }

    /** Sets the validity window. */
    public ForgedCertificate valid(Instant from, Instant until) {
        this.notBefore = from;
        this.notAfter = until;
        return this;
    }

    /** Signs the leaf and returns key + chain (leaf, then the signer's chain). */
    public KeyMaterial build() {
        try {
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(signer.certificate(),
                    BigInteger.valueOf(System.nanoTime()), Date.from(notBefore), Date.from(notAfter),
                    new X500Name("O=forged"), keyPair.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(ca))
                    .addExtension(Extension.extendedKeyUsage, false,
                            new ExtendedKeyUsage(usages.toArray(KeyPurposeId[]::new)));
            List<GeneralName> names = new ArrayList<>();
            uris.forEach(u -> names.add(new GeneralName(GeneralName.uniformResourceIdentifier, u)));
            dnsNames.forEach(d -> names.add(new GeneralName(GeneralName.dNSName, d)));
            if (!names.isEmpty()) {
                builder.addExtension(Extension.subjectAlternativeName, false,
                        new GeneralNames(names.toArray(GeneralName[]::new)));
            }
            X509Certificate leaf = new JcaX509CertificateConverter().getCertificate(builder.build(
                    new JcaContentSignerBuilder("SHA256withECDSA").build(signer.keyMaterial().privateKey())));
            List<X509Certificate> chain = new ArrayList<>();
            chain.add(leaf);
            chain.addAll(signer.keyMaterial().chain());
            return new KeyMaterial(keyPair.getPrivate(), chain);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
