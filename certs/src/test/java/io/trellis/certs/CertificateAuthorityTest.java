package io.trellis.certs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CertificateAuthorityTest {
    private static final Instant NOW = Instant.parse("2026-11-21T12:00:00Z");
    private final Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);
    private final CertificateAuthority ca = CertificateAuthority.generateRoot("cluster.local", clock);
    private final SpiffeId web = SpiffeId.forWorkload("cluster.local", "default", "web");

    @Test
    void rootIsAnEcP256CaValidForTenYears() {
        X509Certificate root = ca.certificate();
        assertThat(root.getBasicConstraints()).isGreaterThanOrEqualTo(0);
        assertThat(root.getPublicKey().getAlgorithm()).isEqualTo("EC");
        assertThat(root.getKeyUsage()[5]).as("keyCertSign").isTrue();
        assertThat(Duration.between(NOW, root.getNotAfter().toInstant())).isEqualTo(Duration.ofDays(3650));
        assertThat(ca.root()).isEqualTo(root);
    }

    @Test
    void issuesLeafWithExactlyOneUriSanAndBothEkus() throws Exception {
        KeyPair keys = CsrFactory.generateKeyPair();
        IssuedCertificate issued = ca.issueWorkload(CsrFactory.createCsr(keys, web), web, Duration.ofHours(24));
        X509Certificate leaf = issued.certificate();

        assertThat(leaf.getBasicConstraints()).as("CA:false").isEqualTo(-1);
        assertThat(leaf.getExtendedKeyUsage()).containsExactlyInAnyOrder("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
        assertThat(leaf.getSubjectAlternativeNames()).containsExactly(List.of(6, web.toString()));
        assertThat(leaf.getPublicKey()).isEqualTo(keys.getPublic());
        assertThat(issued.notAfter()).isEqualTo(NOW.plus(Duration.ofHours(24)));
        assertThat(issued.chain()).containsExactly(leaf, ca.certificate());
        assertThat(PeerCertificateVerifier.uriSanIdentity(leaf)).isEqualTo(web);
    }

    @Test
    void csrAskingForAnotherIdentityGetsTheCredentialIdentityOnly() throws Exception {
        KeyPair keys = CsrFactory.generateKeyPair();
        SpiffeId admin = SpiffeId.forWorkload("cluster.local", "kube-system", "admin");
        byte[] csr = CsrFactory.createCsr(keys, admin);

        X509Certificate leaf = ca.issueWorkload(csr, web, Duration.ofHours(1)).certificate();

        assertThat(leaf.getSubjectAlternativeNames()).containsExactly(List.of(6, web.toString()));
    }

    @Test
    void serialNumbersAreUniqueAndPositive() throws Exception {
        Set<BigInteger> serials = new HashSet<>();
        byte[] csr = CsrFactory.createCsr(CsrFactory.generateKeyPair(), web);
        for (int i = 0; i < 200; i++) {
            BigInteger serial = ca.issueWorkload(csr, web, Duration.ofHours(1)).serial();
            assertThat(serial.signum()).isPositive();
            serials.add(serial);
        }
        assertThat(serials).hasSize(200);
    }

    @Test
    void leafNeverOutlivesTheCa() throws Exception {
        byte[] csr = CsrFactory.createCsr(CsrFactory.generateKeyPair(), web);
        IssuedCertificate issued = ca.issueWorkload(csr, web, Duration.ofDays(20_000));
        assertThat(issued.notAfter()).isEqualTo(ca.certificate().getNotAfter().toInstant());
    }

    @Test
    void rejectsCsrWhoseSignatureDoesNotVerify() {
        byte[] csr = CsrFactory.createCsr(CsrFactory.generateKeyPair(), web);
        csr[csr.length - 5] ^= 0x55;
        assertThatThrownBy(() -> ca.issueWorkload(csr, web, Duration.ofHours(1)))
                .isInstanceOf(InvalidCsrException.class);
    }

    @Test
    void rejectsGarbageAndEmptyCsr() {
        assertThatThrownBy(() -> ca.issueWorkload(new byte[] {1, 2, 3}, web, Duration.ofHours(1)))
                .isInstanceOf(InvalidCsrException.class).hasMessageContaining("not a valid DER PKCS#10");
        assertThatThrownBy(() -> ca.issueWorkload(new byte[0], web, Duration.ofHours(1)))
                .isInstanceOf(InvalidCsrException.class).hasMessageContaining("empty");
    }

    @Test
    void rejectsCsrWithRsaKey() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(2048);
        KeyPair rsa = generator.generateKeyPair();
        byte[] csr = new org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder(
                new org.bouncycastle.asn1.x500.X500Name("O=x"), rsa.getPublic())
                .build(new org.bouncycastle.operator.jcajce.JcaContentSignerBuilder("SHA256withRSA")
                        .build(rsa.getPrivate())).getEncoded();
        assertThatThrownBy(() -> ca.issueWorkload(csr, web, Duration.ofHours(1)))
                .isInstanceOf(InvalidCsrException.class).hasMessageContaining("expected EC P-256");
    }

    @Test
    void loadsOperatorProvidedCaAndRejectsMismatchedKey() throws Exception {
        KeyMaterial material = ca.keyMaterial();
        CertificateAuthority loaded = CertificateAuthority.fromKeyMaterial(
                new KeyMaterial(Pem.decodePrivateKey(material.privateKeyPem()),
                        Pem.decodeCertificates(material.chainPem())), clock);
        assertThat(loaded.certificate()).isEqualTo(ca.certificate());

        KeyMaterial wrongKey = new KeyMaterial(CsrFactory.generateKeyPair().getPrivate(), material.chain());
        assertThatThrownBy(() -> CertificateAuthority.fromKeyMaterial(wrongKey, clock))
                .hasMessageContaining("does not match");

        KeyMaterial leafAsCa = ForgedCertificate.signedBy(ca).uri(web.toString()).build();
        assertThatThrownBy(() -> CertificateAuthority.fromKeyMaterial(leafAsCa, clock))
                .hasMessageContaining("CA:false");
    }

    @Test
    void keyMaterialNeverPrintsTheKey() {
        assertThat(ca.keyMaterial().toString()).contains("<redacted>").doesNotContain("PRIVATE");
    }
}
