package io.trellis.controlplane.ca;

import io.trellis.certs.CertificateAuthority;
import io.trellis.certs.KeyMaterial;
import io.trellis.certs.OwnerOnlyFiles;
import io.trellis.certs.Pem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * CA key material on disk. Self-generated roots live under {@code <dataDir>/ca/<rootId>/} as
 * {@code cert.pem} and {@code key.pem} (mode 0600); an operator-provided CA is read from its own
 * directory (Istio's {@code cacerts} layout: {@code ca-cert.pem}, {@code ca-key.pem}, optional
 * {@code cert-chain.pem} up to the root) and has the id {@code operator}.
 */
final class CaFiles {
    static final String OPERATOR_ID = "operator";

    private final Path rootsDir;
    private final Path operatorDir;
    private final Clock clock;

    CaFiles(Path dataDir, Path operatorDir, Clock clock) {
        this.rootsDir = dataDir.resolve("ca");
        this.operatorDir = operatorDir;
        this.clock = clock;
    }

    boolean hasOperatorCa() {
        return operatorDir != null;
    }

    /** Persists a generated CA and returns its id (the first 16 hex digits of its SHA-256 fingerprint). */
    String save(CertificateAuthority ca) throws IOException {
        String id = rootId(ca.certificate());
        Path dir = rootsDir.resolve(id);
        OwnerOnlyFiles.createDirectories(dir);
        OwnerOnlyFiles.write(dir.resolve("key.pem"), ca.keyMaterial().privateKeyPem());
        OwnerOnlyFiles.write(dir.resolve("cert.pem"), ca.keyMaterial().chainPem());
        return id;
    }

    /** Loads the CA with {@code id}. */
    CertificateAuthority load(String id) throws IOException, GeneralSecurityException {
        if (id.equals(OPERATOR_ID)) {
            return loadOperator();
        }
        Path dir = rootsDir.resolve(id);
        String chain = Files.readString(dir.resolve("cert.pem"));
        String key = Files.readString(dir.resolve("key.pem"));
        return CertificateAuthority.fromKeyMaterial(new KeyMaterial(Pem.decodePrivateKey(key), Pem.decodeCertificates(chain)), clock);
    }

    private CertificateAuthority loadOperator() throws IOException, GeneralSecurityException {
        Path key = operatorDir.resolve("ca-key.pem");
        if (OwnerOnlyFiles.isGroupOrWorldAccessible(key)) {
            throw new GeneralSecurityException(key + " is readable by others (expected mode 0600)");
        }
        List<X509Certificate> chain = new ArrayList<>(Pem.decodeCertificates(Files.readString(operatorDir.resolve("ca-cert.pem"))));
        Path rest = operatorDir.resolve("cert-chain.pem");
        if (Files.exists(rest)) {
            for (X509Certificate certificate : Pem.decodeCertificates(Files.readString(rest))) {
                if (!chain.contains(certificate)) {
                    chain.add(certificate);
                }
            }
        }
        return CertificateAuthority.fromKeyMaterial(new KeyMaterial(Pem.decodePrivateKey(Files.readString(key)), chain), clock);
    }

    static String rootId(X509Certificate certificate) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded());
            return HexFormat.of().formatHex(digest, 0, 8);
        } catch (CertificateEncodingException | java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("cannot fingerprint a certificate", e);
        }
    }
}
