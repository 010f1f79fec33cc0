package io.trellis.controlplane.resource;

import io.trellis.certs.InvalidSpiffeIdException;
import io.trellis.certs.SpiffeId;
import java.util.List;

/**
 * Who may publish to Kafka topics through their sidecar ({@code POST /v1/publish/{topic}}). A topic that no
 * TopicPolicy names is open to every mesh identity; a topic that one or more policies name may be published to
 * only by the identities those policies list (the union of their {@code publishers}), like ALLOW
 * AuthorizationPolicies. Topics are named exactly or by a prefix ending in {@code *} ({@code orders.*}).
 * Topic names are global to the broker, so a policy applies whatever its own namespace.
 */
public record TopicPolicySpec(List<String> topics, List<String> publishers) implements Spec {
    @Override
    public TopicPolicySpec withDefaults() {
        return new TopicPolicySpec(topics == null ? null : List.copyOf(topics), List.copyOf(Spec.or(publishers, List.of())));
    }

    @Override
    public void validate(Validation v) {
        if (v.required(topics, "spec.topics", "at least one topic name or prefix ending in *")) {
            for (int i = 0; i < topics.size(); i++) {
                String topic = topics.get(i);
                String name = topic.endsWith("*") ? topic.substring(0, topic.length() - 1) : topic;
                v.check(topic.equals("*") || SubscriptionSpec.isValidTopic(name), "spec.topics[" + i + "]", topic,
                        "a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -), optionally ending in *");
            }
        }
        for (int i = 0; i < publishers.size(); i++) {
            String publisher = publishers.get(i);
            if (publisher.equals("*")) {
                continue;
            }
            try {
                SpiffeId.parse(publisher.endsWith("/*") ? publisher.substring(0, publisher.length() - 2) : publisher);
            } catch (InvalidSpiffeIdException e) {
                v.error("spec.publishers[" + i + "]", "'" + publisher
                        + "' (expected *, a SPIFFE ID, or a SPIFFE ID ending in /*: " + e.getMessage() + ")");
            }
        }
    }

    /** True when {@code identity} is one of this policy's publishers. */
    public boolean allowsPublisher(SpiffeId identity) {
        String id = identity.toString();
        return publishers.stream().anyMatch(p -> p.equals("*") || p.equals(id)
                || (p.endsWith("/*") && id.startsWith(p.substring(0, p.length() - 1))));
    }

    @Override
    public String service() {
        return null;
    }
}
