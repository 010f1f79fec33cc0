package io.trellis.controlplane.registry;

import java.time.Instant;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

/**
 * The built-in service registry: every sidecar with an open Connect stream, and what the control
 * plane has sent it and heard back. Membership changes notify listeners (the snapshot pusher).
 *
 * <p>After a restart the control plane also knows the instances of its previous run ({@link #recover}):
 * they stay in {@link #instances()} until they reconnect or a grace period passes. Without that, the first
 * sidecars to reconnect would be pushed snapshots missing every service whose sidecars had not reconnected
 * yet, and requests on known routes would fail with {@code no-route} although nothing changed.
 * Thread-safe; each {@link Registration} is updated only by its own stream.
 */
public final class ProxyRegistry {
    private final Map<String, Registration> byNode = new ConcurrentHashMap<>();
    private final Map<String, ProxyInstance> recovered = new ConcurrentHashMap<>();
    private final List<Runnable> membershipListeners = new CopyOnWriteArrayList<>();
    private volatile Instant recoveredUntil = Instant.MIN;
    /** The latest refused registrations, newest last, at most {@link #MAX_REFUSALS}. */
    private final java.util.ArrayDeque<Refusal> refusals = new java.util.ArrayDeque<>();
    private static final int MAX_REFUSALS = 100;

    /** One proxy's entry; handed to its stream, which reports sends, ACKs and NACKs through it. */
    public final class Registration {
        private final ProxyInstance instance;
        private final Map<Long, List<String>> rootsByVersion = new HashMap<>();
        private long lastSent;
        private long lastAcked;
        private long lastNackVersion = -1;
        private String lastNackError;
        private List<String> ackedRoots = List.of();

        private Registration(ProxyInstance instance) {
            this.instance = instance;
        }

        /** The instance. */
        public ProxyInstance instance() {
            return instance;
        }

        /** Records that snapshot {@code version}, trusting {@code roots}, was sent. */
        public synchronized void sent(long version, List<String> roots) {
            lastSent = version;
            rootsByVersion.put(version, List.copyOf(roots));
        }

        /** Records an ACK. Versions never sent are ignored. */
        public synchronized boolean acked(long version) {
            List<String> roots = rootsByVersion.get(version);
            if (roots == null) {
                return false;
            }
            lastAcked = Math.max(lastAcked, version);
            ackedRoots = roots;
            rootsByVersion.keySet().removeIf(v -> v <= version);
            return true;
        }

        /** Records a NACK and its reason. Versions never sent are ignored. */
        public synchronized boolean nacked(long version, String error) {
            if (!rootsByVersion.containsKey(version)) {
                return false;
            }
            lastNackVersion = version;
            lastNackError = error;
            rootsByVersion.remove(version);
            return true;
        }

        /** The last version sent (0 = none). */
        public synchronized long lastSent() {
            return lastSent;
        }

        synchronized ProxyStatus status() {
            SyncState state = lastNackVersion == lastSent ? SyncState.NACKED
                    : lastAcked == lastSent ? SyncState.SYNCED : SyncState.STALE;
            return new ProxyStatus(instance, lastSent, lastAcked, lastNackError, state, ackedRoots);
        }
    }

    /**
     * Keeps {@code previous} (the instances of the last run) as endpoints until each reconnects, or until
     * {@code until}, whichever comes first.
     */
    public void recover(List<ProxyInstance> previous, Instant until) {
        previous.forEach(instance -> recovered.put(key(instance), instance));
        recoveredUntil = until;
        if (!previous.isEmpty()) {
            membershipListeners.forEach(Runnable::run);
        }
    }

    /** Drops the recovered instances that did not reconnect once {@code now} is past the grace period. */
    public void expireRecovered(Instant now) {
        if (!recovered.isEmpty() && now.isAfter(recoveredUntil)) {
            recovered.clear();
            membershipListeners.forEach(Runnable::run);
        }
    }

    /**
     * Registers a connected proxy, replacing an older stream of the same node of the same identity. Nodes are told
     * apart by identity and node id, so a proxy cannot replace another identity's entry by naming its node (an
     * injected proxy's node id is its pod's name, which others can guess).
     */
    public Registration register(ProxyInstance instance) {
        Registration registration = new Registration(instance);
        recovered.remove(key(instance));
        // A sidecar restarted with a new node id announces the same inbound endpoint: the old entry is stale.
        recovered.values().removeIf(old -> old.address().equals(instance.address()) && old.inboundPort() == instance.inboundPort());
        byNode.put(key(instance), registration);
        membershipListeners.forEach(Runnable::run);
        return registration;
    }

    /** Removes the proxy if {@code registration} is still its current entry. */
    public void deregister(Registration registration) {
        if (byNode.remove(key(registration.instance()), registration)) {
            membershipListeners.forEach(Runnable::run);
        }
    }

    private static String key(ProxyInstance instance) {
        return instance.identity() + " " + instance.nodeId();
    }

    /** Every connected instance, and every recovered one not yet reconnected, ordered by namespace, service and node. */
    public List<ProxyInstance> instances() {
        return Stream.concat(byNode.values().stream().map(Registration::instance),
                        recovered.values().stream().filter(instance -> !byNode.containsKey(key(instance))))
                .sorted(Comparator.comparing(ProxyInstance::namespace).thenComparing(ProxyInstance::service)
                        .thenComparing(ProxyInstance::nodeId))
                .toList();
    }

    /** Every connected proxy's status, ordered like {@link #instances()}. */
    public List<ProxyStatus> statuses() {
        return byNode.values().stream().map(Registration::status)
                .sorted(Comparator.comparing((ProxyStatus s) -> s.instance().namespace())
                        .thenComparing(s -> s.instance().service()).thenComparing(s -> s.instance().nodeId()))
                .toList();
    }

    /** Records a refused registration (the oldest is dropped beyond {@value #MAX_REFUSALS}). */
    public void refused(Refusal refusal) {
        synchronized (refusals) {
            if (refusals.size() == MAX_REFUSALS) {
                refusals.removeFirst();
            }
            refusals.addLast(refusal);
        }
    }

    /** The latest refused registrations, oldest first. */
    public List<Refusal> refusals() {
        synchronized (refusals) {
            return List.copyOf(refusals);
        }
    }

    /** Calls {@code listener} whenever a proxy joins or leaves. */
    public void onMembershipChange(Runnable listener) {
        membershipListeners.add(listener);
    }
}
