package io.trellis.sidecar.kafka;

import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * At most {@code slots} deliveries of a subscription at once, over all its partitions: {@link #acquire} completes
 * when a slot is free (in request order), {@link #release} frees one. Never blocks a thread. Thread-safe.
 */
final class DeliverySlots {
    private final Queue<CompletableFuture<Void>> waiting = new ArrayDeque<>();
    private int free;

    DeliverySlots(int slots) {
        if (slots < 1) {
            throw new IllegalArgumentException("slots: " + slots + " (expected >= 1)");
        }
        this.free = slots;
    }

    /** Completes once a slot is held by the caller, who must {@link #release} it. */
    CompletionStage<Void> acquire() {
        CompletableFuture<Void> slot = new CompletableFuture<>();
        synchronized (this) {
            if (free > 0) {
                free--;
                slot.complete(null);
            } else {
                waiting.add(slot);
            }
        }
        return slot;
    }

    /** Returns a slot, handing it to the longest waiter if there is one. */
    void release() {
        CompletableFuture<Void> next;
        synchronized (this) {
            next = waiting.poll();
            if (next == null) {
                free++;
                return;
            }
        }
        // Completed outside the lock: the waiter's delivery starts on this thread.
        next.complete(null);
    }
}
