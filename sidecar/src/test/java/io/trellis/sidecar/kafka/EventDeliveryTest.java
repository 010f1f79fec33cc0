package io.trellis.sidecar.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class EventDeliveryTest {
    @Test
    void serverErrorsTimeoutsAndOverloadAreRetriedOtherClientErrorsAreNot() {
        assertThat(EventDelivery.retriable(500)).isTrue();
        assertThat(EventDelivery.retriable(503)).isTrue();
        assertThat(EventDelivery.retriable(408)).isTrue();
        assertThat(EventDelivery.retriable(429)).isTrue();
        assertThat(EventDelivery.retriable(400)).isFalse();
        assertThat(EventDelivery.retriable(404)).isFalse();
        assertThat(EventDelivery.retriable(422)).isFalse();
    }
}
