package io.trellis.controlplane.registry;

/** Whether a proxy runs the config last sent to it. */
public enum SyncState {
    /** The last snapshot sent was acknowledged. */
    SYNCED,
    /** A snapshot was sent and is not acknowledged yet. */
    STALE,
    /** The last snapshot sent was rejected; the proxy serves an older one. */
    NACKED
}
