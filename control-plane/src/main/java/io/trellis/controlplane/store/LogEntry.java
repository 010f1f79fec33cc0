package io.trellis.controlplane.store;

import java.time.Instant;

/** One committed change: its position in the log (the new revision) and when it was committed. */
public record LogEntry(long index, Instant time, Change change) {
}
