package io.trellis.certs;

/** A string that is not a valid SPIFFE ID; the message says which rule it broke. */
public final class InvalidSpiffeIdException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    InvalidSpiffeIdException(String message) {
        super(message);
    }
}
