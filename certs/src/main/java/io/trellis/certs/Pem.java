package io.trellis.certs;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.util.io.pem.PemObject;

/**
 * PEM encoding and decoding of certificates and private keys. Keys are written as PKCS#8
 * ({@code PRIVATE KEY}) so that openssl, curl and every JDK can read them; reading also accepts
 * SEC1 ({@code EC PRIVATE KEY}) as operators often have it. Stateless and thread-safe.
 */
public final class Pem {
    private Pem() {
    }

    /** Encodes certificates, in order, as concatenated {@code CERTIFICATE} blocks. */
    public static String encodeCertificates(List<X509Certificate> certificates) {
        StringWriter out = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(out)) {
            for (X509Certificate certificate : certificates) {
                writer.writeObject(certificate);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    /** Encodes a private key as a PKCS#8 {@code PRIVATE KEY} block. */
    public static String encodePrivateKey(PrivateKey key) {
        StringWriter out = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(out)) {
            PemObject pkcs8 = new JcaPKCS8Generator(key, null).generate();
            writer.writeObject(pkcs8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    /**
     * Decodes every {@code CERTIFICATE} block in {@code pem}, in order; other block types are skipped.
     *
     * @throws CertificateException when a block is not a valid X.509 certificate or none is present
     */
    public static List<X509Certificate> decodeCertificates(String pem) throws CertificateException {
        List<X509Certificate> certificates = new ArrayList<>();
        CertificateFactory factory = CertificateFactory.getInstance("X.509");
        try (PEMParser parser = new PEMParser(new StringReader(pem))) {
            PemObject object;
            while ((object = parser.readPemObject()) != null) {
                if (object.getType().equals("CERTIFICATE")) {
                    certificates.add((X509Certificate) factory.generateCertificate(
                            new ByteArrayInputStream(object.getContent())));
                }
            }
        } catch (IOException e) {
            throw new CertificateException("malformed PEM: " + e.getMessage(), e);
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
        try (PEMParser parser = new PEMParser(new StringReader(pem))) {
            Object object;
            JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
            while ((object = parser.readObject()) != null) {
                if (object instanceof PrivateKeyInfo info) {
                    return converter.getPrivateKey(info);
                }
                if (object instanceof PEMKeyPair pair) {
                    return converter.getKeyPair(pair).getPrivate();
                }
            }
        } catch (IOException e) {
            throw new GeneralSecurityException("malformed private key PEM (" + e.getClass().getSimpleName() + ")", e);
        }
        throw new GeneralSecurityException("no unencrypted PRIVATE KEY or EC PRIVATE KEY block found in PEM");
    }
}
