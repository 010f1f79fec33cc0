package io.trellis.controlplane.push;

import io.trellis.certs.TrustBundle;
import io.trellis.controlplane.ca.MeshCertificateAuthority;
import io.trellis.controlplane.compile.ProxySnapshot;
import io.trellis.controlplane.compile.SnapshotCompiler;
import io.trellis.controlplane.registry.ClusterServices;
import io.trellis.controlplane.registry.ProxyInstance;
import io.trellis.controlplane.registry.ProxyRegistry;
import io.trellis.controlplane.store.MeshState;
import io.trellis.controlplane.store.PolicyStore;
import io.trellis.mesh.v1.ConfigUpdate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps every connected proxy's snapshot current. A policy commit, a registry change or a change of the cluster's
 * services (Kubernetes) schedules one
 * recompilation after a short debounce (changes arriving meanwhile ride along); each proxy whose
 * compiled snapshot differs from the last one it was sent gets a new one. All compilation runs on one
 * thread, so versions handed out are strictly increasing and each proxy's snapshots arrive in order.
 *
 * <p>Versions start at the wall-clock milliseconds of process start, so a restarted control plane
 * keeps counting upwards from where sidecars are; a proxy's Hello also reports the last version it
 * applied and its next snapshot is always above it.
 */
public final class SnapshotPusher implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SnapshotPusher.class);

    private final PolicyStore store;
    private final ProxyRegistry registry;
    private final MeshCertificateAuthority ca;
    private final ClusterServices clusterServices;
    private final ScheduledExecutorService executor;
    private final Duration debounce;
    private final AtomicLong versions;
    private final Set<ProxySession> sessions = ConcurrentHashMap.newKeySet();
    /** A recompilation is scheduled and has not started reading state yet (guarded by this). */
    private boolean scheduled;
    // Written by the push thread, read by committing threads.
    private volatile long lastPolicyRevision = -1;

    /** Creates the pusher and subscribes it to store commits and registry changes. */
    public SnapshotPusher(PolicyStore store, ProxyRegistry registry, MeshCertificateAuthority ca,
            ClusterServices clusterServices, ScheduledExecutorService executor, Duration debounce, Clock clock) {
        this.store = store;
        this.registry = registry;
        this.ca = ca;
        this.clusterServices = clusterServices;
        this.executor = executor;
        this.debounce = debounce;
        this.versions = new AtomicLong(clock.millis());
        store.onCommit(state -> {
            if (state.policyRevision() != lastPolicyRevision) {
                schedulePushAll();
            }
        });
        registry.onMembershipChange(this::schedulePushAll);
        clusterServices.onChange(this::schedulePushAll);
    }

    /** Starts pushing to {@code session}: its first snapshot is compiled and sent right away. */
    void attach(ProxySession session) {
        executor.execute(() -> {
            sessions.add(session);
            push(session, store.state(), ca.trustBundle(), registry.instances());
        });
    }

    /** Stops pushing to {@code session}. */
    void detach(ProxySession session) {
        sessions.remove(session);
    }

    private synchronized void schedulePushAll() {
        // A change that arrives while a recompilation runs schedules another: that one may have read the state before.
        if (!scheduled) {
            scheduled = true;
            executor.schedule(this::pushAll, debounce.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private void pushAll() {
        synchronized (this) {
            scheduled = false;
        }
        try {
            MeshState state = store.state();
            lastPolicyRevision = state.policyRevision();
            TrustBundle bundle = ca.trustBundle();
            List<ProxyInstance> instances = registry.instances();
            for (ProxySession session : sessions) {
                push(session, state, bundle, instances);
            }
        } catch (RuntimeException e) {
            // Sidecars keep their last good snapshot; the next change retries.
            LOG.error("snapshot compilation failed", e);
        }
    }

    private void push(ProxySession session, MeshState state, TrustBundle bundle, List<ProxyInstance> instances) {
        ProxySnapshot snapshot = SnapshotCompiler.compile(state, instances, clusterServices.byService(), bundle, session.instance());
        if (snapshot.equals(session.lastSnapshot())) {
            return;
        }
        long version = versions.updateAndGet(v -> Math.max(v, session.lastAppliedAtHello()) + 1);
        List<String> roots = bundle.roots().stream().map(MeshCertificateAuthority::rootId).toList();
        ConfigUpdate update = ConfigUpdate.newBuilder().setSnapshot(SnapshotTranslator.toProto(snapshot, version)).build();
        session.send(snapshot, version, roots, update);
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }
}
