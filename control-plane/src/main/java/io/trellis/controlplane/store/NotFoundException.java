package io.trellis.controlplane.store;

/** A named thing that does not exist; HTTP 404. */
public final class NotFoundException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception; the message names what was looked for. */
    public NotFoundException(String message) {
        super(message);
    }
}
