package io.trellis.sidecar.config;

/** A snapshot the sidecar cannot apply; the message is sent back in the NACK and names the field. */
public final class InvalidSnapshotException extends Exception {
    /** Rejects a snapshot because of {@code reason}. */
    public InvalidSnapshotException(String reason) {
        super(reason);
    }
}
