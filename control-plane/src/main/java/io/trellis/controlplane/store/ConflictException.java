package io.trellis.controlplane.store;

/** A write whose precondition no longer holds (stale resourceVersion, token already used); HTTP 409. */
public final class ConflictException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with a message naming the resource and the versions. */
    public ConflictException(String message) {
        super(message);
    }
}
