package io.trellis.certs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.trellis.certs.PeerCertificateVerifier.PeerRole;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class PeerCertificateVerifierTest {
    private final Instant now = Instant.now();
    private final CertificateAuthority ca = CertificateAuthority.generateRoot("cluster.local", Clock.systemUTC());
    private final TrustBundle bundle = new TrustBundle("cluster.local", List.of(ca.certificate()));
    private final SpiffeId web = SpiffeId.forWorkload("cluster.local", "default", "web");

    private KeyMaterial issued() throws Exception {
        var keys = CsrFactory.generateKeyPair();
        IssuedCertificate cert = ca.issueWorkload(CsrFactory.createCsr(keys, web), web, Duration.ofHours(1));
        return new KeyMaterial(keys.getPrivate(), cert.chain());
    }

    @Test
    void acceptsIssuedLeafInBothRoles() throws Exception {
        List<java.security.cert.X509Certificate> chain = issued().chain();
        assertThat(PeerCertificateVerifier.verify(chain, bundle, PeerRole.CLIENT, now)).isEqualTo(web);
        assertThat(PeerCertificateVerifier.verifyIdentity(chain, bundle, PeerRole.SERVER, now, web)).isEqualTo(web);
    }

    @Test
    void acceptsLeafWithoutTheRootInTheChain() throws Exception {
        assertThat(PeerCertificateVerifier.verify(List.of(issued().leaf()), bundle, PeerRole.CLIENT, now))
                .isEqualTo(web);
    }

    @Test
    void rejectsWrongExpectedIdentity() throws Exception {
        SpiffeId other = SpiffeId.forWorkload("cluster.local", "default", "other");
        assertThatThrownBy(() -> PeerCertificateVerifier.verifyIdentity(issued().chain(), bundle, PeerRole.SERVER,
                now, other)).isInstanceOf(PeerVerificationException.class).hasMessageContaining("not the expected");
    }

    @Test
    void rejectsForeignCa() throws Exception {
        CertificateAuthority foreign = CertificateAuthority.generateRoot("cluster.local", Clock.systemUTC());
        var chain = ForgedCertificate.signedBy(foreign).uri(web.toString()).build().chain();
        assertThatThrownBy(() -> PeerCertificateVerifier.verify(chain, bundle, PeerRole.CLIENT, now))
                .isInstanceOf(PeerVerificationException.class).hasMessageContaining("does not chain");
    }

    @Test
    void rejectsExpiredLeaf() {
        var chain = ForgedCertificate.signedBy(ca).uri(web.toString())
                .valid(now.minusSeconds(7200), now.minusSeconds(60)).build().chain();
        assertThatThrownBy(() -> PeerCertificateVerifier.verify(chain, bundle, PeerRole.CLIENT, now))
                .hasMessageContaining("expired");
    }

    @Test
    void rejectsNotYetValidLeaf() {
        var chain = ForgedCertificate.signedBy(ca).uri(web.toString())
                .valid(now.plusSeconds(600), now.plusSeconds(7200)).build().chain();
        assertThatThrownBy(() -> PeerCertificateVerifier.verify(chain, bundle, PeerRole.CLIENT, now))
                .hasMessageContaining("not valid before");
    }

    @Test
    void rejectsTwoUriSans() {
        var chain = ForgedCertificate.signedBy(ca).uri(web.toString())
                .uri("spiffe://cluster.local/ns/kube-system/sa/admin").build().chain();
        assertThatThrownBy(() -> PeerCertificateVerifier.verify(chain, bundle, PeerRole.CLIENT, now))
                .hasMessageContaining("2 URI SANs");
    }

    @Test
    void rejectsIdentityCarriedOnlyAsDnsSan() {
        var chain = ForgedCertificate.signedBy(ca).dns("web.default.svc.cluster.local").build().chain();
        assertThatThrownBy(() -> PeerCertificateVerifier.verify(chain, bundle, PeerRole.CLIENT, now))
                .hasMessageContaining("no URI SAN");
    }

    @Test
    void rejectsNulSuffixInUriSan() {
        var chain = ForgedCertificate.signedBy(ca).uri(web + "\0.attacker.example").build().chain();
        assertThatThrownBy(() -> PeerCertificateVerifier.verify(chain, bundle, PeerRole.CLIENT, now))
                .hasMessageContaining("not a valid SPIFFE ID").hasMessageContaining("control");
    }

    @Test
    void malformedSecondUriSanCannotHideBehindAValidOne() {
        var chain = ForgedCertificate.signedBy(ca).uri(web.toString()).uri("spiffe://cluster.local/ns/x/sa/y\0")
                .build().chain();
        assertThatThrownBy(() -> PeerCertificateVerifier.verify(chain, bundle, PeerRole.CLIENT, now))
                .hasMessageContaining("2 URI SANs");
    }

    @Test
    void rejectsCaTrueLeaf() {
        var chain = ForgedCertificate.signedBy(ca).uri(web.toString()).ca().build().chain();
        assertThatThrownBy(() -> PeerCertificateVerifier.verify(chain, bundle, PeerRole.CLIENT, now))
                .hasMessageContaining("CA:true");
    }

    @Test
    void rejectsClientWithoutClientAuthEku() {
        var chain = ForgedCertificate.signedBy(ca).uri(web.toString()).serverAuthOnly().build().chain();
        assertThatThrownBy(() -> PeerCertificateVerifier.verify(chain, bundle, PeerRole.CLIENT, now))
                .hasMessageContaining("clientAuth");
        assertThat(catchVerify(chain, PeerRole.SERVER)).isNull();
    }

    @Test
    void rejectsIdentityFromAnotherTrustDomain() {
        var chain = ForgedCertificate.signedBy(ca).uri("spiffe://evil.example/ns/default/sa/web").build().chain();
        assertThatThrownBy(() -> PeerCertificateVerifier.verify(chain, bundle, PeerRole.CLIENT, now))
                .hasMessageContaining("not in trust domain cluster.local");
    }

    @Test
    void rejectsPeerPresentingTheRootItself() {
        assertThatThrownBy(() -> PeerCertificateVerifier.verify(List.of(ca.certificate()), bundle, PeerRole.CLIENT, now))
                .isInstanceOf(PeerVerificationException.class);
    }

    @Test
    void trustsBothRootsDuringRotationAndOnlyTheNewOneAfter() throws Exception {
        CertificateAuthority next = CertificateAuthority.generateRoot("cluster.local", Clock.systemUTC());
        var oldLeaf = issued().chain();
        var newLeaf = ForgedCertificate.signedBy(next).uri(web.toString()).build().chain();
        TrustBundle both = bundle.with(next.certificate());

        assertThat(PeerCertificateVerifier.verify(oldLeaf, both, PeerRole.CLIENT, now)).isEqualTo(web);
        assertThat(PeerCertificateVerifier.verify(newLeaf, both, PeerRole.CLIENT, now)).isEqualTo(web);

        TrustBundle onlyNew = both.without(ca.certificate());
        assertThatThrownBy(() -> PeerCertificateVerifier.verify(oldLeaf, onlyNew, PeerRole.CLIENT, now))
                .hasMessageContaining("does not chain");
    }

    private PeerVerificationException catchVerify(List<java.security.cert.X509Certificate> chain, PeerRole role) {
        try {
            PeerCertificateVerifier.verify(chain, bundle, role, now);
            return null;
        } catch (PeerVerificationException e) {
            return e;
        }
    }
}
