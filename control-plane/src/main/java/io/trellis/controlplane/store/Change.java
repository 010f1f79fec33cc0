package io.trellis.controlplane.store;

import io.trellis.controlplane.resource.Resource;
import io.trellis.controlplane.resource.ResourceKey;
import java.util.List;

/**
 * One entry's worth of change to the mesh state. Changes are facts applied in log order by
 * {@link MeshState#apply}; preconditions (expected resource versions) travel with them so every replica
 * reaches the same verdict.
 */
public sealed interface Change {
    /**
     * Creates or replaces resources, all or none. A resource whose {@code metadata.resourceVersion} is
     * set is only written if that is still its current version ({@code "0"}: only if it does not exist).
     */
    record PutResources(List<Resource> resources) implements Change {
        /** Copies the list. */
        public PutResources {
            resources = List.copyOf(resources);
        }
    }

    /** Deletes a resource; with {@code expectedRevision} only if that is still its version. */
    record DeleteResource(ResourceKey key, Long expectedRevision) implements Change {
    }

    /** Records a minted join token. */
    record MintToken(JoinToken token) implements Change {
    }

    /** Marks a single-use join token used. */
    record UseToken(String id) implements Change {
    }

    /** Records a minted viewer (read-only API) token. */
    record MintViewerToken(ViewerToken token) implements Change {
    }

    /** Revokes a viewer token. */
    record RevokeViewerToken(String id) implements Change {
    }

    /** Records an issued certificate. */
    record RecordCertificate(CertificateRecord certificate) implements Change {
    }

    /** Replaces the CA state (first root, rotation steps). */
    record SetCa(CaState ca) implements Change {
    }
}
