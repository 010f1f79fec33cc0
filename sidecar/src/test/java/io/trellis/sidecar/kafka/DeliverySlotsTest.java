package io.trellis.sidecar.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class DeliverySlotsTest {
    @Test
    void holdsAtMostItsSlotsAndHandsFreedOnesToWaitersInOrder() {
        DeliverySlots slots = new DeliverySlots(2);
        CompletableFuture<Void> first = slots.acquire().toCompletableFuture();
        CompletableFuture<Void> second = slots.acquire().toCompletableFuture();
        CompletableFuture<Void> third = slots.acquire().toCompletableFuture();
        CompletableFuture<Void> fourth = slots.acquire().toCompletableFuture();
        assertThat(first).isDone();
        assertThat(second).isDone();
        assertThat(third).isNotDone();

        slots.release();
        assertThat(third).isDone();
        assertThat(fourth).isNotDone();
        slots.release();
        assertThat(fourth).isDone();

        slots.release();
        slots.release();
        assertThat(slots.acquire()).isDone();
        assertThat(slots.acquire()).isDone();
        assertThat(slots.acquire().toCompletableFuture()).isNotDone();
    }
}
