package io.trellis.controlplane.token;

/** A token that does not authenticate anyone; the message says why, without secrets. */
public final class TokenRejectedException extends Exception {
    private static final long serialVersionUID = 1L;

    TokenRejectedException(String message) {
        super(message);
    }
}
