package io.trellis.sidecar.identity;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.certs.CertificateAuthority;
import io.trellis.certs.CsrFactory;
import io.trellis.certs.KeyMaterial;
import io.trellis.certs.SpiffeId;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class RenewalScheduleTest {
    private static KeyMaterial issuedAt(Instant now, Duration ttl) throws Exception {
        CertificateAuthority ca = CertificateAuthority.generateRoot("cluster.local", Clock.fixed(now, ZoneOffset.UTC));
        SpiffeId id = SpiffeId.forWorkload("cluster.local", "default", "web");
        KeyPair keys = CsrFactory.generateKeyPair();
        return new KeyMaterial(keys.getPrivate(), ca.issueWorkload(CsrFactory.createCsr(keys, id), id, ttl).chain());
    }

    @Test
    void renewsAtHalfTheCertificatesLifetime() throws Exception {
        Instant now = Instant.parse("2026-11-21T12:00:00Z");
        KeyMaterial material = issuedAt(now, Duration.ofHours(24));
        Duration lifetime = Duration.between(material.notBefore(), material.notAfter());

        Duration delay = IdentityRotator.renewalDelay(material, material.notBefore());

        assertThat(delay).isEqualTo(lifetime.dividedBy(2));
        assertThat(IdentityRotator.renewalDelay(material, material.notBefore().plus(lifetime.dividedBy(4))))
                .isEqualTo(lifetime.dividedBy(4));
    }

    @Test
    void renewsAtOnceWhenHalfTheLifetimeHasPassed() throws Exception {
        KeyMaterial material = issuedAt(Instant.parse("2026-11-21T12:00:00Z"), Duration.ofHours(1));

        assertThat(IdentityRotator.renewalDelay(material, material.notAfter().minusSeconds(1))).isZero();
    }
}
