package io.trellis.sidecar.identity;

import io.trellis.certs.KeyMaterial;
import io.trellis.certs.OwnerOnlyFiles;
import io.trellis.certs.Pem;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.Signature;
import java.util.Optional;

/**
 * The sidecar's own state directory (mode 0700, every file 0600): its key and certificate chain, the trust
 * bundle, and the last accepted snapshot, so that a restart while the control plane is down still comes up
 * with working identity and config (DESIGN.md §4, static stability). Writes are atomic (temp file, fsync,
 * rename). Thread-safe: each file is replaced whole.
 */
public final class StateDirectory {
    private final Path dir;

    /** Opens (creating it 0700 when missing) {@code dir}. */
    public StateDirectory(Path dir) throws IOException {
        this.dir = dir.toAbsolutePath();
        if (!Files.isDirectory(this.dir)) {
            Files.createDirectories(this.dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
    }

    /** The directory. */
    public Path path() {
        return dir;
    }

    /**
     * Saves the key and chain in one file ({@code identity.pem}: the key, then the chain), replaced in one
     * atomic rename, so a crash can never leave a key beside a certificate for another key. The key never
     * leaves this directory.
     */
    public void saveIdentity(KeyMaterial material) throws IOException {
        OwnerOnlyFiles.write(dir.resolve("identity.pem"), material.privateKeyPem() + material.chainPem());
    }

    /** The saved key and chain, if present, readable and belonging together. */
    public Optional<KeyMaterial> loadIdentity() throws IOException {
        Optional<String> pem = read("identity.pem");
        if (pem.isEmpty()) {
            return Optional.empty();
        }
        try {
            KeyMaterial material = new KeyMaterial(Pem.decodePrivateKey(pem.get()), Pem.decodeCertificates(pem.get()));
            return belongTogether(material) ? Optional.of(material) : Optional.empty();
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            // Unreadable or mismatched: enrol again rather than serve with it.
            return Optional.empty();
        }
    }

    /** True when the private key signs what the leaf's public key verifies. */
    private static boolean belongTogether(KeyMaterial material) throws GeneralSecurityException {
        byte[] probe = "trellis-key-check".getBytes(StandardCharsets.UTF_8);
        Signature signer = Signature.getInstance("SHA256withECDSA");
        signer.initSign(material.privateKey());
        signer.update(probe);
        byte[] signature = signer.sign();
        Signature verifier = Signature.getInstance("SHA256withECDSA");
        verifier.initVerify(material.leaf().getPublicKey());
        verifier.update(probe);
        return verifier.verify(signature);
    }

    /** Saves the trust bundle PEM. */
    public void saveTrustBundle(String pem) throws IOException {
        OwnerOnlyFiles.write(dir.resolve("trust-bundle.pem"), pem);
    }

    /** The saved trust bundle PEM. */
    public Optional<String> loadTrustBundle() throws IOException {
        return read("trust-bundle.pem");
    }

    /** Saves the last accepted snapshot (protobuf bytes). */
    public void saveSnapshot(byte[] snapshot) throws IOException {
        OwnerOnlyFiles.write(dir.resolve("snapshot.pb"), snapshot);
    }

    /** The last accepted snapshot's bytes. */
    public Optional<byte[]> loadSnapshot() throws IOException {
        try {
            return Optional.of(Files.readAllBytes(dir.resolve("snapshot.pb")));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    private Optional<String> read(String name) throws IOException {
        try {
            return Optional.of(Files.readString(dir.resolve(name), StandardCharsets.UTF_8));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }
}
