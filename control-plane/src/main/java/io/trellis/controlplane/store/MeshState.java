package io.trellis.controlplane.store;

import io.trellis.controlplane.resource.Kind;
import io.trellis.controlplane.resource.MeshConfigSpec;
import io.trellis.controlplane.resource.Resource;
import io.trellis.controlplane.resource.ResourceKey;
import java.time.Instant;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The whole policy state at one revision: resources, join and viewer tokens, issued certificates and
 * the CA state. Immutable; {@link #apply} is a pure function of the state, the entry index, its time and the
 * change, so replaying a log always yields the same state.
 */
public final class MeshState {
    /** The state of an empty store. */
    public static final MeshState EMPTY = new MeshState(0, 0, new TreeMap<>(), Map.of(), Map.of(), Map.of(), null);

    private final long revision;
    private final long policyRevision;
    private final NavigableMap<ResourceKey, Resource> resources;
    private final Map<String, JoinToken> tokens;
    private final Map<String, ViewerToken> viewerTokens;
    private final Map<String, CertificateRecord> certificates;
    private final CaState ca;

    MeshState(long revision, long policyRevision, NavigableMap<ResourceKey, Resource> resources,
            Map<String, JoinToken> tokens, Map<String, ViewerToken> viewerTokens,
            Map<String, CertificateRecord> certificates, CaState ca) {
        this.revision = revision;
        this.policyRevision = policyRevision;
        // Never mutated after construction (changes copy it), so unchanged states can share it.
        this.resources = resources;
        this.tokens = tokens;
        this.viewerTokens = viewerTokens;
        this.certificates = certificates;
        this.ca = ca;
    }

    /**
     * The state after {@code change}, committed as log entry {@code index} at {@code time}.
     *
     * @throws ConflictException when the change's precondition does not hold (the state is unchanged)
     * @throws NotFoundException when it deletes or uses something that does not exist
     */
    public MeshState apply(long index, Instant time, Change change) {
        if (index <= revision) {
            throw new IllegalArgumentException("entry " + index + " is not after revision " + revision);
        }
        if (change instanceof Change.PutResources put) {
            return put(index, time, put);
        }
        if (change instanceof Change.DeleteResource delete) {
            return delete(index, delete);
        }
        if (change instanceof Change.MintToken mint) {
            Map<String, JoinToken> next = new LinkedHashMap<>(tokens);
            next.put(mint.token().id(), mint.token());
            return new MeshState(index, policyRevision, resources, next, viewerTokens, certificates, ca);
        }
        if (change instanceof Change.UseToken use) {
            return useToken(index, use);
        }
        if (change instanceof Change.MintViewerToken mint) {
            Map<String, ViewerToken> next = new LinkedHashMap<>(viewerTokens);
            next.put(mint.token().id(), mint.token());
            return new MeshState(index, policyRevision, resources, tokens, next, certificates, ca);
        }
        if (change instanceof Change.RevokeViewerToken revoke) {
            if (!viewerTokens.containsKey(revoke.id())) {
                throw new NotFoundException("viewer token " + revoke.id() + " does not exist");
            }
            Map<String, ViewerToken> next = new LinkedHashMap<>(viewerTokens);
            next.remove(revoke.id());
            return new MeshState(index, policyRevision, resources, tokens, next, certificates, ca);
        }
        if (change instanceof Change.RecordCertificate record) {
            Map<String, CertificateRecord> next = new LinkedHashMap<>(certificates);
            next.put(record.certificate().serial(), record.certificate());
            return new MeshState(index, policyRevision, resources, tokens, viewerTokens, next, ca);
        }
        Change.SetCa set = (Change.SetCa) change;
        return new MeshState(index, index, resources, tokens, viewerTokens, certificates, set.ca());
    }

    private MeshState put(long index, Instant time, Change.PutResources put) {
        TreeMap<ResourceKey, Resource> next = new TreeMap<>(resources);
        for (Resource resource : put.resources()) {
            Resource current = next.get(resource.key());
            String expected = resource.metadata().resourceVersion();
            if (expected != null) {
                long currentRevision = current == null ? 0 : current.revision();
                if (Long.parseLong(expected) != currentRevision) {
                    throw new ConflictException(resource.key() + ": resourceVersion " + expected + " is stale (current "
                            + (current == null ? "none: it does not exist" : currentRevision) + ")");
                }
            }
            Instant created = current == null ? time : current.metadata().creationTimestamp();
            next.put(resource.key(), resource.stored(index, created));
        }
        return new MeshState(index, index, next, tokens, viewerTokens, certificates, ca);
    }

    private MeshState delete(long index, Change.DeleteResource delete) {
        Resource current = resources.get(delete.key());
        if (current == null) {
            throw new NotFoundException(delete.key() + " does not exist");
        }
        if (delete.expectedRevision() != null && delete.expectedRevision() != current.revision()) {
            throw new ConflictException(delete.key() + ": resourceVersion " + delete.expectedRevision()
                    + " is stale (current " + current.revision() + ")");
        }
        TreeMap<ResourceKey, Resource> next = new TreeMap<>(resources);
        next.remove(delete.key());
        return new MeshState(index, index, next, tokens, viewerTokens, certificates, ca);
    }

    private MeshState useToken(long index, Change.UseToken use) {
        JoinToken token = tokens.get(use.id());
        if (token == null) {
            throw new NotFoundException("join token " + use.id() + " does not exist");
        }
        if (token.singleUse() && token.used()) {
            throw new ConflictException("join token " + use.id() + " was already used");
        }
        Map<String, JoinToken> next = new LinkedHashMap<>(tokens);
        next.put(token.id(), token.markUsed());
        return new MeshState(index, policyRevision, resources, next, viewerTokens, certificates, ca);
    }

    /** This state without tokens and certificates that expired before {@code now} (for compaction). */
    public MeshState pruned(Instant now) {
        Map<String, JoinToken> liveTokens = new LinkedHashMap<>();
        tokens.forEach((id, t) -> {
            if (!t.spentOrExpired(now)) {
                liveTokens.put(id, t);
            }
        });
        Map<String, ViewerToken> liveViewers = new LinkedHashMap<>();
        viewerTokens.forEach((id, t) -> {
            if (!t.expired(now)) {
                liveViewers.put(id, t);
            }
        });
        Map<String, CertificateRecord> liveCertificates = new LinkedHashMap<>();
        certificates.forEach((serial, c) -> {
            if (c.notAfter().isAfter(now)) {
                liveCertificates.put(serial, c);
            }
        });
        return new MeshState(revision, policyRevision, resources, liveTokens, liveViewers, liveCertificates, ca);
    }

    /** The revision of the last applied entry (0 when empty). */
    public long revision() {
        return revision;
    }

    /**
     * The revision of the last change to resources or the CA: what compiled snapshots depend on. Token
     * and certificate bookkeeping does not move it.
     */
    public long policyRevision() {
        return policyRevision;
    }

    /** Every resource, ordered by kind, namespace and name. */
    public NavigableMap<ResourceKey, Resource> resources() {
        return Collections.unmodifiableNavigableMap(resources);
    }

    /** One resource. */
    public Optional<Resource> resource(ResourceKey key) {
        return Optional.ofNullable(resources.get(key));
    }

    /** Resources of one kind, optionally in one namespace (null = all). */
    public List<Resource> resources(Kind kind, String namespace) {
        return resources.values().stream()
                .filter(r -> r.kind() == kind)
                .filter(r -> namespace == null || namespace.equals(r.key().namespace()))
                .toList();
    }

    /** The mesh-wide settings: {@code MeshConfig/default}, or the defaults when none was written. */
    public MeshConfigSpec meshConfig() {
        Resource config = resources.get(new ResourceKey(Kind.MESH_CONFIG, "", "default"));
        return config == null ? MeshConfigSpec.DEFAULTS : config.spec(MeshConfigSpec.class);
    }

    /** Join tokens by id. */
    public Map<String, JoinToken> tokens() {
        return Collections.unmodifiableMap(tokens);
    }

    /** Viewer tokens by id. */
    public Map<String, ViewerToken> viewerTokens() {
        return Collections.unmodifiableMap(viewerTokens);
    }

    /** Issued certificates by hex serial. */
    public Map<String, CertificateRecord> certificates() {
        return Collections.unmodifiableMap(certificates);
    }

    /** The CA state; null until the CA first started. */
    public CaState ca() {
        return ca;
    }

    static MeshState restore(long revision, long policyRevision, List<Resource> resources, List<JoinToken> tokens,
            List<ViewerToken> viewerTokens, List<CertificateRecord> certificates, CaState ca) {
        TreeMap<ResourceKey, Resource> byKey = new TreeMap<>();
        resources.forEach(r -> byKey.put(r.key(), r));
        Map<String, JoinToken> tokenMap = new LinkedHashMap<>();
        tokens.forEach(t -> tokenMap.put(t.id(), t));
        Map<String, ViewerToken> viewerMap = new LinkedHashMap<>();
        viewerTokens.forEach(t -> viewerMap.put(t.id(), t));
        Map<String, CertificateRecord> certificateMap = new HashMap<>();
        certificates.forEach(c -> certificateMap.put(c.serial(), c));
        return new MeshState(revision, policyRevision, byKey, tokenMap, viewerMap, certificateMap, ca);
    }
}
