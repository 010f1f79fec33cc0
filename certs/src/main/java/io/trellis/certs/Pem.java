package io.trellis.certs;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * PEM encoding and decoding (RFC 7468) of certificates and private keys, with the JDK alone. Keys are
 * written as PKCS#8 ({@code PRIVATE KEY}) so that openssl, curl and every JDK can read them; reading
 * also accepts SEC1 ({@code EC PRIVATE KEY}) as operators often have it. Encrypted keys are refused.
 * Stateless and thread-safe.
 */
public final class Pem {
    private static final Pattern BLOCK = Pattern.compile(
            "-----BEGIN ([A-Z0-9 ]+)-----\\r?\\n(.*?)-----END \\1-----", Pattern.DOTALL);
    private static final String EC_PUBLIC_KEY = "1.2.840.10045.2.1";

    private Pem() {
    }

    /** Encodes certificates, in order, as concatenated {@code CERTIFICATE} blocks. */
    public static String encodeCertificates(List<X509Certificate> certificates) {
        StringBuilder out = new StringBuilder();
        for (X509Certificate certificate : certificates) {
            try {
                block(out, "CERTIFICATE", certificate.getEncoded());
            } catch (CertificateEncodingException e) {
                throw new IllegalArgumentException("a certificate that cannot be encoded: " + e.getMessage(), e);
            }
        }
        return out.toString();
    }

    /** Encodes a private key as a PKCS#8 {@code PRIVATE KEY} block. */
    public static String encodePrivateKey(PrivateKey key) {
        if (!"PKCS#8".equals(key.getFormat())) {
            throw new IllegalArgumentException("a " + key.getAlgorithm() + " key in " + key.getFormat() + ", not PKCS#8");
        }
        return block(new StringBuilder(), "PRIVATE KEY", key.getEncoded()).toString();
    }

    /**
     * Decodes every {@code CERTIFICATE} block in {@code pem}, in order; other block types are skipped.
     *
     * @throws CertificateException when a block is not a valid X.509 certificate or none is present
     */
    public static List<X509Certificate> decodeCertificates(String pem) throws CertificateException {
        List<X509Certificate> certificates = new ArrayList<>();
        CertificateFactory factory = CertificateFactory.getInstance("X.509");
        Matcher block = BLOCK.matcher(pem);
        while (block.find()) {
            if (block.group(1).equals("CERTIFICATE")) {
                try {
                    certificates.add((X509Certificate) factory.generateCertificate(
                            new ByteArrayInputStream(contents(block))));
                } catch (IOException e) {
                    throw new CertificateException("malformed PEM: " + e.getMessage(), e);
                }
            }
        }
        if (certificates.isEmpty()) {
            throw new CertificateException("no CERTIFICATE block found in PEM");
        }
        return List.copyOf(certificates);
    }

    /**
     * Decodes the first private key in {@code pem} (PKCS#8 or SEC1 EC).
     *
     * @throws GeneralSecurityException when no key is present or it cannot be decoded
     */
    public static PrivateKey decodePrivateKey(String pem) throws GeneralSecurityException {
        Matcher block = BLOCK.matcher(pem);
        while (block.find()) {
            String type = block.group(1);
            if (!type.equals("PRIVATE KEY") && !type.equals("EC PRIVATE KEY")) {
                continue;
            }
            try {
                byte[] der = contents(block);
                byte[] pkcs8 = type.equals("PRIVATE KEY") ? der : sec1ToPkcs8(der);
                String algorithm = type.equals("PRIVATE KEY") ? algorithmOf(der) : "EC";
                return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
            } catch (IOException | InvalidKeySpecException e) {
                throw new GeneralSecurityException("malformed private key PEM (" + e.getClass().getSimpleName() + ")", e);
            }
        }
        throw new GeneralSecurityException("no unencrypted PRIVATE KEY or EC PRIVATE KEY block found in PEM");
    }

    private static StringBuilder block(StringBuilder out, String type, byte[] der) {
        out.append("-----BEGIN ").append(type).append("-----\n");
        out.append(Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)).append('\n');
        return out.append("-----END ").append(type).append("-----\n");
    }

    /** A block's contents; a block with headers (RFC 1421's {@code Proc-Type: 4,ENCRYPTED}) is refused. */
    private static byte[] contents(Matcher block) throws IOException {
        String body = block.group(2);
        if (body.contains(":")) {
            throw new IOException("a PEM block with headers (an encrypted key?)");
        }
        try {
            return Base64.getMimeDecoder().decode(body.getBytes(StandardCharsets.US_ASCII));
        } catch (IllegalArgumentException e) {
            throw new IOException("PEM block is not Base64", e);
        }
    }

    /** The key algorithm a PKCS#8 PrivateKeyInfo names: EC, RSA or Ed25519 (what the JDK reads). */
    private static String algorithmOf(byte[] pkcs8) throws IOException {
        List<Der.Element> info = Der.read(pkcs8).children();
        if (info.size() < 3 || info.get(1).tag() != Der.SEQUENCE) {
            throw new IOException("not a PKCS#8 PrivateKeyInfo");
        }
        byte[] oid = info.get(1).children().get(0).encoded();
        if (Arrays.equals(oid, Der.oid(EC_PUBLIC_KEY))) {
            return "EC";
        }
        if (Arrays.equals(oid, Der.oid("1.2.840.113549.1.1.1"))) {
            return "RSA";
        }
        if (Arrays.equals(oid, Der.oid("1.3.101.112"))) {
            return "Ed25519";
        }
        throw new IOException("a PKCS#8 key of an algorithm this reader does not know");
    }

    /**
     * An SEC1 ECPrivateKey (RFC 5915) wrapped as PKCS#8: the curve comes from its {@code [0]} parameters, which
     * openssl always writes.
     */
    private static byte[] sec1ToPkcs8(byte[] sec1) throws IOException {
        Der.Element curve = null;
        for (Der.Element field : Der.read(sec1).children()) {
            if (field.tag() == Der.CONTEXT_0) {
                curve = Der.read(field.contents());
            }
        }
        if (curve == null || curve.tag() != Der.OID) {
            throw new IOException("an EC PRIVATE KEY without its named curve");
        }
        return Der.tlv(Der.SEQUENCE, Der.integer(0),
                Der.tlv(Der.SEQUENCE, Der.oid(EC_PUBLIC_KEY), curve.encoded()), Der.tlv(Der.OCTET_STRING, sec1));
    }
}
