package io.trellis.controlplane.token;

/**
 * The API server could not review a token (unreachable, or it refused the control plane's own credentials): the
 * sidecar's token may be fine, and it should try again. The message says what failed.
 */
public final class TokenReviewUnavailableException extends Exception {
    private static final long serialVersionUID = 1L;

    TokenReviewUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
