package io.trellis.certs;

/** A certificate signing request that the CA refuses; the message says why. */
public final class InvalidCsrException extends Exception {
    private static final long serialVersionUID = 1L;

    InvalidCsrException(String message) {
        super(message);
    }
}
