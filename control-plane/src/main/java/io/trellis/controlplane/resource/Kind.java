package io.trellis.controlplane.resource;

import java.util.Arrays;
import java.util.Optional;

/** The resource kinds the control plane stores, with their REST plural and spec type. */
public enum Kind {
    MESH_CONFIG("MeshConfig", "meshconfigs", MeshConfigSpec.class, true),
    TRAFFIC_POLICY("TrafficPolicy", "trafficpolicies", TrafficPolicySpec.class, false),
    ROUTE("Route", "routes", RouteSpec.class, false),
    AUTHORIZATION_POLICY("AuthorizationPolicy", "authorizationpolicies", AuthorizationPolicySpec.class, false),
    SUBSCRIPTION("Subscription", "subscriptions", SubscriptionSpec.class, false),
    EXTERNAL_SERVICE("ExternalService", "externalservices", ExternalServiceSpec.class, false),
    TOPIC_POLICY("TopicPolicy", "topicpolicies", TopicPolicySpec.class, false),
    SERVICE_BINDING("ServiceBinding", "servicebindings", ServiceBindingSpec.class, false);

    private final String kindName;
    private final String plural;
    private final Class<? extends Spec> specType;
    private final boolean clusterScoped;

    Kind(String kindName, String plural, Class<? extends Spec> specType, boolean clusterScoped) {
        this.kindName = kindName;
        this.plural = plural;
        this.specType = specType;
        this.clusterScoped = clusterScoped;
    }

    /** The {@code kind} field value, e.g. {@code TrafficPolicy}. */
    public String kindName() {
        return kindName;
    }

    /** The REST collection name, e.g. {@code trafficpolicies}. */
    public String plural() {
        return plural;
    }

    /** The spec record type. */
    public Class<? extends Spec> specType() {
        return specType;
    }

    /** True for kinds without a namespace (MeshConfig, whose only instance is named {@code default}). */
    public boolean clusterScoped() {
        return clusterScoped;
    }

    /** Looks a kind up by its {@code kind} field value. */
    public static Optional<Kind> byName(String name) {
        return Arrays.stream(values()).filter(k -> k.kindName.equals(name)).findFirst();
    }

    /** Looks a kind up by its REST plural. */
    public static Optional<Kind> byPlural(String plural) {
        return Arrays.stream(values()).filter(k -> k.plural.equals(plural)).findFirst();
    }

    /** Every kind name, for error messages. */
    public static String names() {
        return String.join(", ", Arrays.stream(values()).map(Kind::kindName).toList());
    }
}
