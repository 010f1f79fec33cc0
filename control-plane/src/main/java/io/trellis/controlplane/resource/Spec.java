package io.trellis.controlplane.resource;

/**
 * The {@code spec} of a resource. Specs are immutable records; a stored spec always has every default
 * filled in, so what the API returns is what the mesh enforces.
 */
public sealed interface Spec permits MeshConfigSpec, TrafficPolicySpec, RouteSpec, AuthorizationPolicySpec,
        SubscriptionSpec, ExternalServiceSpec, TopicPolicySpec, ServiceBindingSpec {
    /** This spec with every unset field given its default (DESIGN.md §5, §7). */
    Spec withDefaults();

    /** Records every invalid field of a defaulted spec; paths start with {@code spec.}. */
    void validate(Validation validation);

    /** The service the spec applies to; null for mesh-wide kinds. */
    String service();

    /** Returns {@code value}, or {@code fallback} when it is null. */
    static <T> T or(T value, T fallback) {
        return value != null ? value : fallback;
    }
}
