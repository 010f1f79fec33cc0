package io.trellis.controlplane.store;

import java.io.IOException;
import java.util.List;

/**
 * The ordered, durable log of changes the {@link PolicyStore} state machine is built from. The
 * embedded implementation is a local file; a replicated one (a compacted Kafka topic) can stand in.
 */
public interface ChangeLog extends AutoCloseable {
    /** What was durable at start: the last compacted state and the entries after it, in order. */
    record Recovered(MeshState compacted, List<LogEntry> entries) {
        /** Copies the entries. */
        public Recovered {
            entries = List.copyOf(entries);
        }
    }

    /** Reads everything durable. Called once, before the first append. */
    Recovered recover() throws IOException;

    /** Appends an entry; it is durable (survives a crash or power loss) when this returns. */
    void append(LogEntry entry) throws IOException;

    /** True when enough has been appended since the last compaction that {@link #compact} is worth it. */
    boolean wantsCompaction();

    /** Replaces everything logged so far with {@code state}, which must include every entry appended. */
    void compact(MeshState state) throws IOException;

    @Override
    void close() throws IOException;
}
