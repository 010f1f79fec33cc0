package io.trellis.sidecar.config;

import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.List;

/**
 * The current {@link RoutingTable}: written by the control-plane session (one atomic swap per accepted
 * snapshot), read lock-free by every request. Empty until the first snapshot (or a persisted one) is applied.
 */
public final class RoutingTableRef {
    private final AtomicReference<RoutingTable> current = new AtomicReference<>();
    private final List<Consumer<RoutingTable>> listeners = new CopyOnWriteArrayList<>();

    /** The table requests should use, if any snapshot was applied yet. */
    public Optional<RoutingTable> current() {
        return Optional.ofNullable(current.get());
    }

    /** Publishes {@code next}; later reads see it. Listeners run on the caller's thread and must not throw. */
    public void publish(RoutingTable next) {
        current.set(next);
        for (Consumer<RoutingTable> listener : listeners) {
            listener.accept(next);
        }
    }

    /** Calls {@code listener} with every later table (trust-bundle holders, metrics). */
    public void onPublish(Consumer<RoutingTable> listener) {
        listeners.add(listener);
    }
}
