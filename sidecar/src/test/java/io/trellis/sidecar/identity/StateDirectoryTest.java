package io.trellis.sidecar.identity;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.certs.CertificateAuthority;
import io.trellis.certs.CsrFactory;
import io.trellis.certs.KeyMaterial;
import io.trellis.certs.OwnerOnlyFiles;
import io.trellis.certs.Pem;
import io.trellis.certs.SpiffeId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StateDirectoryTest {
    private static final SpiffeId WEB = SpiffeId.forWorkload("cluster.local", "default", "web");
    private static final CertificateAuthority CA = CertificateAuthority.generateRoot("cluster.local", Clock.systemUTC());

    @TempDir
    Path temp;

    private static KeyMaterial issue() throws Exception {
        KeyPair keys = CsrFactory.generateKeyPair();
        return new KeyMaterial(keys.getPrivate(), CA.issueWorkload(CsrFactory.createCsr(keys, WEB), WEB, Duration.ofHours(1)).chain());
    }

    @Test
    void keepsKeyAndChainOwnerOnlyAndReadsThemBack() throws Exception {
        StateDirectory state = new StateDirectory(temp.resolve("state"));
        KeyMaterial material = issue();

        state.saveIdentity(material);

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(temp.resolve("state")))).isEqualTo("rwx------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(temp.resolve("state/identity.pem"))))
                .isEqualTo("rw-------");
        KeyMaterial loaded = state.loadIdentity().orElseThrow();
        assertThat(loaded.chain()).isEqualTo(material.chain());
        assertThat(loaded.privateKey().getEncoded()).isEqualTo(material.privateKey().getEncoded());
    }

    @Test
    void refusesAKeyThatDoesNotMatchTheCertificate() throws Exception {
        StateDirectory state = new StateDirectory(temp);
        KeyMaterial one = issue();
        KeyMaterial other = issue();
        OwnerOnlyFiles.write(temp.resolve("identity.pem"), Pem.encodePrivateKey(other.privateKey()) + one.chainPem());

        assertThat(state.loadIdentity()).isEmpty();
    }

    @Test
    void nothingSavedMeansNothingLoaded() throws Exception {
        StateDirectory state = new StateDirectory(temp);

        assertThat(state.loadIdentity()).isEmpty();
        assertThat(state.loadSnapshot()).isEmpty();
        assertThat(state.loadTrustBundle()).isEmpty();
        state.saveSnapshot(new byte[] {1, 2, 3});
        assertThat(state.loadSnapshot()).hasValueSatisfying(bytes -> assertThat(bytes).containsExactly(1, 2, 3));
    }
}
