package io.trellis.certs;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;

/**
 * The workload side of enrolment: generates an EC P-256 key pair (which never leaves the process
 * that made it) and a PKCS#10 request (RFC 2986) signed with it, encoded with the JDK and {@link Der}
 * alone so that a sidecar carries no ASN.1 library. The requested identity in the CSR is only a
 * hint: the CA takes the identity from the bootstrap credential. Thread-safe.
 */
public final class CsrFactory {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String ORGANIZATION = "2.5.4.10";
    private static final String EXTENSION_REQUEST = "1.2.840.113549.1.9.14";
    private static final String SUBJECT_ALT_NAME = "2.5.29.17";
    private static final String ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";

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
     * A DER-encoded PKCS#10 request for {@code keyPair}, subject {@code O=trellis}, signed with
     * SHA256withECDSA, asking for {@code requested} as its URI SAN.
     */
    public static byte[] createCsr(KeyPair keyPair, SpiffeId requested) {
        byte[] subject = Der.tlv(Der.SEQUENCE, Der.tlv(Der.SET,
                Der.tlv(Der.SEQUENCE, Der.oid(ORGANIZATION), Der.utf8("trellis"))));
        byte[] uri = Der.tlv(Der.URI_NAME, requested.toString().getBytes(StandardCharsets.US_ASCII));
        byte[] subjectAltName = Der.tlv(Der.SEQUENCE, Der.oid(SUBJECT_ALT_NAME),
                Der.tlv(Der.OCTET_STRING, Der.tlv(Der.SEQUENCE, uri)));
        byte[] extensionRequest = Der.tlv(Der.SEQUENCE, Der.oid(EXTENSION_REQUEST),
                Der.tlv(Der.SET, Der.tlv(Der.SEQUENCE, subjectAltName)));
        byte[] info = Der.tlv(Der.SEQUENCE, Der.integer(0), subject, keyPair.getPublic().getEncoded(),
                Der.tlv(Der.CONTEXT_0, extensionRequest));
        try {
            Signature signer = Signature.getInstance("SHA256withECDSA");
            signer.initSign(keyPair.getPrivate(), RANDOM);
            signer.update(info);
            byte[] signature = signer.sign();
            return Der.tlv(Der.SEQUENCE, info, Der.tlv(Der.SEQUENCE, Der.oid(ECDSA_WITH_SHA256)),
                    Der.tlv(Der.BIT_STRING, new byte[] {0}, signature));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot sign a CSR with " + keyPair.getPrivate().getAlgorithm(), e);
        }
    }
}
