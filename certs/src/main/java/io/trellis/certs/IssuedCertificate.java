package io.trellis.certs;

import java.math.BigInteger;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;

/** A certificate the CA issued, with its chain up to the root (leaf first) and the identity it carries. */
public record IssuedCertificate(X509Certificate certificate, List<X509Certificate> chain, SpiffeId identity) {
    /** Copies the chain. */
    public IssuedCertificate {
        chain = List.copyOf(chain);
    }

    /** The serial number. */
    public BigInteger serial() {
        return certificate.getSerialNumber();
    }

    /** When the certificate expires. */
    public Instant notAfter() {
        return certificate.getNotAfter().toInstant();
    }

    /** The chain as PEM, leaf first. */
    public String chainPem() {
        return Pem.encodeCertificates(chain);
    }
}
