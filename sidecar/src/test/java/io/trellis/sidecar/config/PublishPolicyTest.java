package io.trellis.sidecar.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class PublishPolicyTest {
    @Test
    void restrictedTopicsNeedAnAllowingPatternOthersAreOpen() {
        PublishPolicy policy = new PublishPolicy(List.of("payments.*", "audit"), List.of("payments.eu"));
        assertThat(policy.allows("orders")).isTrue();
        assertThat(policy.allows("audit")).isFalse();
        assertThat(policy.allows("payments.us")).isFalse();
        assertThat(policy.allows("payments.eu")).isTrue();
        assertThat(policy.allows("payments")).as("the prefix is 'payments.'").isTrue();
        assertThat(PublishPolicy.OPEN.allows("anything")).isTrue();
    }

    @Test
    void topicNamesFollowKafkasRule() {
        assertThat(TopicName.isValid("orders.v1_eu-2")).isTrue();
        assertThat(TopicName.isValid("no spaces")).isFalse();
        assertThat(TopicName.isValid("..")).isFalse();
        assertThat(TopicName.isValid("x".repeat(250))).isFalse();
        assertThat(TopicName.isInternal("__consumer_offsets")).isTrue();
    }
}
