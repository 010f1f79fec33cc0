package io.trellis.sidecar.errors;

import java.util.Objects;

/**
 * A request failed for a reason the sidecar knows and names. Pipeline stages fail their futures with it;
 * {@link ErrorResponses} turns it into the response. The message is shown to the caller: it must never hold
 * secrets.
 */
public final class ProxyException extends RuntimeException {
    private final ProxyError error;

    /** A failure of kind {@code error}, explained by {@code message}. */
    public ProxyException(ProxyError error, String message) {
        super(message, null, false, false);
        this.error = Objects.requireNonNull(error, "error");
    }

    /** A failure of kind {@code error} caused by {@code cause}. */
    public ProxyException(ProxyError error, String message, Throwable cause) {
        super(message, cause, false, false);
        this.error = Objects.requireNonNull(error, "error");
    }

    /** What kind of failure this is. */
    public ProxyError error() {
        return error;
    }
}
