package io.trellis.controlplane.store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The policy state machine (DESIGN.md §7): the current {@link MeshState}, advanced only by committing
 * changes to the {@link ChangeLog}. A commit checks its preconditions against the current state, makes
 * the entry durable, then publishes the new state; a rejected or failed commit changes nothing.
 * Reads are lock-free snapshots; commits are serialised.
 */
public final class PolicyStore implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PolicyStore.class);

    private final ChangeLog log;
    private final Clock clock;
    private final List<Consumer<MeshState>> listeners = new CopyOnWriteArrayList<>();
    private volatile MeshState state;

    /** Recovers the state from {@code log}. */
    public PolicyStore(ChangeLog log, Clock clock) throws IOException {
        this.log = log;
        this.clock = clock;
        ChangeLog.Recovered recovered = log.recover();
        MeshState current = recovered.compacted();
        for (LogEntry entry : recovered.entries()) {
            current = current.apply(entry.index(), entry.time(), entry.change());
        }
        this.state = current;
        LOG.info("policy store recovered at revision {} ({} resources, {} log entries replayed)",
                current.revision(), current.resources().size(), recovered.entries().size());
    }

    /** The current state. */
    public MeshState state() {
        return state;
    }

    /**
     * Commits {@code change} and returns the state after it.
     *
     * @throws ConflictException or {@link NotFoundException} when a precondition fails (nothing written)
     * @throws UncheckedIOException when the log cannot be written (nothing applied)
     */
    public synchronized MeshState commit(Change change) {
        MeshState current = state;
        long index = current.revision() + 1;
        var time = clock.instant();
        MeshState next = current.apply(index, time, change);
        try {
            log.append(new LogEntry(index, time, change));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the change log: " + e.getMessage(), e);
        }
        state = next;
        compactIfDue(next);
        for (Consumer<MeshState> listener : listeners) {
            try {
                listener.accept(next);
            } catch (RuntimeException e) {
                LOG.error("state listener failed; the change is committed", e);
            }
        }
        return next;
    }

    private void compactIfDue(MeshState current) {
        if (!log.wantsCompaction()) {
            return;
        }
        try {
            log.compact(current.pruned(clock.instant()));
        } catch (IOException e) {
            // The log still holds every entry; compaction is retried after the next commit.
            LOG.warn("change log compaction failed: {}", e.toString());
        }
    }

    /** Calls {@code listener} with every state committed from now on (on the committing thread). */
    public void onCommit(Consumer<MeshState> listener) {
        listeners.add(listener);
    }

    @Override
    public synchronized void close() throws IOException {
        log.close();
    }
}
