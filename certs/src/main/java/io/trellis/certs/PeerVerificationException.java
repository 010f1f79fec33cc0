package io.trellis.certs;

import java.security.cert.CertificateException;

/** A peer certificate chain that must not be trusted; the message says which check failed. */
public final class PeerVerificationException extends CertificateException {
    private static final long serialVersionUID = 1L;

    PeerVerificationException(String message) {
        super(message);
    }

    PeerVerificationException(String message, Throwable cause) {
        super(message, cause);
    }
}
