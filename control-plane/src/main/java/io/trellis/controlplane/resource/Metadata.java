package io.trellis.controlplane.resource;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;
import java.util.Map;

/**
 * Kubernetes-shaped metadata. {@code resourceVersion} is the store revision that last wrote the
 * resource (a decimal string, as in Kubernetes); on writes it is the version the client expects.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Metadata(String name, String namespace, Map<String, String> labels, String resourceVersion,
        Instant creationTimestamp) {
    /** Copies labels (null = none). */
    public Metadata {
        labels = labels == null ? Map.of() : Map.copyOf(labels);
    }

    /** This metadata as the store records it. */
    public Metadata stored(long revision, Instant created) {
        return new Metadata(name, namespace, labels, Long.toString(revision), created);
    }
}
