package io.trellis.certs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.spec.ECGenParameterSpec;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * The workload side of enrolment: generates an EC P-256 key pair (which never leaves the process
 * that made it) and a PKCS#10 request signed with it. The requested identity in the CSR is only a
 * hint: the CA takes the identity from the bootstrap credential. Thread-safe.
 */
public final class CsrFactory {
    private static final SecureRandom RANDOM = new SecureRandom();

    private CsrFactory() {
    }

    /** A fresh EC P-256 key pair. */
    public static KeyPair generateKeyPair() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no EC P-256 support", e);
        }
    }

    /**
     * A DER-encoded PKCS#10 request for {@code keyPair}, signed with SHA256withECDSA, asking for
     * {@code requested} as its URI SAN.
     */
    public static byte[] createCsr(KeyPair keyPair, SpiffeId requested) {
        try {
            ExtensionsGenerator extensions = new ExtensionsGenerator();
            extensions.addExtension(Extension.subjectAlternativeName, false,
                    new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, requested.toString())));
            return new JcaPKCS10CertificationRequestBuilder(new X500Name("O=trellis"), keyPair.getPublic())
                    .addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, extensions.generate())
                    .build(new JcaContentSignerBuilder("SHA256withECDSA").build(keyPair.getPrivate()))
                    .getEncoded();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (OperatorCreationException e) {
            throw new IllegalStateException("cannot sign a CSR with " + keyPair.getPrivate().getAlgorithm(), e);
        }
    }
}
