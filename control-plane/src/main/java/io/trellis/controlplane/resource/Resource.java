package io.trellis.controlplane.resource;

import java.util.Objects;

/** A validated, defaulted resource: kind, metadata and a typed spec. Immutable. */
public record Resource(Kind kind, Metadata metadata, Spec spec) {
    /** The API version every resource is written with. */
    public static final String API_VERSION = "trellis.io/v1";

    /** Checks the spec type matches the kind. */
    public Resource {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(metadata, "metadata");
        if (!kind.specType().isInstance(spec)) {
            throw new IllegalArgumentException("spec " + spec.getClass().getSimpleName() + " is not a " + kind.kindName());
        }
    }

    /** The key the store files this resource under. */
    public ResourceKey key() {
        return new ResourceKey(kind, kind.clusterScoped() ? "" : metadata.namespace(), metadata.name());
    }

    /** The store revision that last wrote it; 0 for a resource not yet stored. */
    public long revision() {
        return metadata.resourceVersion() == null ? 0 : Long.parseLong(metadata.resourceVersion());
    }

    /** The typed spec. */
    public <S extends Spec> S spec(Class<S> type) {
        return type.cast(spec);
    }

    /** This resource with store metadata filled in. */
    public Resource stored(long revision, java.time.Instant created) {
        return new Resource(kind, metadata.stored(revision, created), spec);
    }
}
