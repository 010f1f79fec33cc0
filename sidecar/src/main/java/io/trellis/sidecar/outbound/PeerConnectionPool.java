package io.trellis.sidecar.outbound;

import io.netty.channel.EventLoop;
import io.trellis.certs.SpiffeId;
import io.trellis.sidecar.config.Cluster;
import io.trellis.sidecar.config.ClusterPolicy;
import io.trellis.sidecar.config.Endpoint;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.identity.WorkloadIdentity;
import io.trellis.sidecar.transport.EventLoops;
import io.trellis.sidecar.transport.netty.PeerConnection;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.stream.Materializer;

/**
 * HTTP/2-over-mTLS connections to peer sidecars ({@link PeerConnection}, on Netty): per endpoint, one multiplexed
 * connection per event loop, opened on first use from that loop and replaced when it ends or the peer sends GOAWAY.
 * A request goes out on the connection of the loop it arrived on, so its exchange, and its bodies relayed between
 * the two channels, stay on one thread (the peer accepts that connection on one of its loops, where its app
 * connections follow); when the cluster's {@code maxConnections} allows no more, it shares another loop's connection.
 * Each connection's TLS insists that the server proves exactly the identity the snapshot expects for that endpoint
 * (no hostname check: the SPIFFE ID is the name). Thread-safe.
 */
final class PeerConnectionPool {
    /** What a connection is for: the same address with another expected identity is another connection. */
    record Key(String address, int port, SpiffeId identity) {
    }

    /** One endpoint's connection on one event loop. */
    private record Slot(Key key, EventLoop loop) {
    }

    private final EventLoops loops;
    private final Materializer materializer;
    private final WorkloadIdentity identity;
    private final ConcurrentHashMap<Slot, PeerConnection> connections = new ConcurrentHashMap<>();
    private final Object opening = new Object();

    PeerConnectionPool(EventLoops loops, Materializer materializer, WorkloadIdentity identity) {
        this.loops = loops;
        this.materializer = materializer;
        this.identity = identity;
    }

    /**
     * Sends {@code request} to {@code endpoint} of {@code cluster} over its connection on the caller's loop, opening
     * one if needed; fails with {@code overloaded} when no connection is open to the endpoint and opening one would
     * exceed the cluster's {@code maxConnections}, or when the connection already holds {@code maxPendingRequests}
     * requests waiting for it. When {@code abandoned} completes before the exchange ended, its stream is reset.
     */
    CompletionStage<HttpResponse> send(Cluster cluster, Endpoint endpoint, HttpRequest request, CompletionStage<?> abandoned) {
        Slot slot = new Slot(key(endpoint), loops.current());
        PeerConnection connection = connections.get(slot);
        if (connection == null || !connection.isOpen()) {
            connection = connect(cluster, slot);
        }
        return connection.send(request, abandoned);
    }

    /**
     * The slot's connection, opened now if it has none that is open, or another loop's when the limit allows no
     * more (kept in the slot too, so that the loop's next requests find it without the lock, for as long as it is
     * open). Only the rare (re)connect takes the lock; concurrent requests open one connection between them, and
     * two loops opening at once count each other's connections.
     */
    private PeerConnection connect(Cluster cluster, Slot slot) {
        synchronized (opening) {
            PeerConnection existing = connections.get(slot);
            if (existing != null && existing.isOpen()) {
                return existing;
            }
            PeerConnection opened = openWithinLimit(cluster, slot, existing);
            PeerConnection chosen = opened != null ? opened : anotherLoops(slot.key());
            connections.put(slot, chosen);
            return chosen;
        }
    }

    private static Key key(Endpoint endpoint) {
        return new Key(endpoint.address(), endpoint.port(), endpoint.identity());
    }

    /**
     * A new connection for {@code slot}, or null when the cluster's limit allows none but another loop's connection
     * to the same endpoint is open (the request shares that one).
     */
    private PeerConnection openWithinLimit(Cluster cluster, Slot slot, PeerConnection replaced) {
        Set<Key> endpoints = new HashSet<>();
        for (Endpoint endpoint : cluster.endpoints()) {
            endpoints.add(key(endpoint));
        }
        // A shared connection sits in several slots: it counts once.
        Set<PeerConnection> open = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        Set<Key> connected = new HashSet<>();
        for (Map.Entry<Slot, PeerConnection> entry : connections.entrySet()) {
            if (entry.getValue().isOpen() && endpoints.contains(entry.getKey().key())) {
                open.add(entry.getValue());
                connected.add(entry.getKey().key());
            }
        }
        ClusterPolicy.Limits limits = cluster.policy().limits();
        if (connected.contains(slot.key())) {
            // A loop's own connection to an endpoint that has one already: only while every endpoint without one
            // could still get one within the limit, so per-loop connections never crowd an endpoint out.
            int unconnected = 0;
            for (Key endpoint : endpoints) {
                unconnected += connected.contains(endpoint) ? 0 : 1;
            }
            if (open.size() + unconnected >= limits.maxConnections()) {
                if (replaced != null) {
                    replaced.closeWhenIdle();
                }
                return null;
            }
        } else if (open.size() >= limits.maxConnections()) {
            throw new ProxyException(ProxyError.OVERLOADED, cluster.name() + " already has " + open.size()
                    + " connections open (connectionLimits.maxConnections)");
        }
        if (replaced != null) {
            // Gone away or broken: its streams in flight finish (or fail) on their own; new ones go to the new one.
            replaced.closeWhenIdle();
        }
        Key key = slot.key();
        return PeerConnection.open(loops, slot.loop(), identity.peerContext(key.identity()), key.address(), key.port(),
                cluster.timeouts().connect(), cluster.timeouts().idle(), Math.max(1, limits.maxPendingRequests()), materializer);
    }

    /** An open connection to {@code key} on any loop (there is one: {@link #openWithinLimit} said so). */
    private PeerConnection anotherLoops(Key key) {
        for (Map.Entry<Slot, PeerConnection> entry : connections.entrySet()) {
            if (entry.getKey().key().equals(key) && entry.getValue().isOpen()) {
                return entry.getValue();
            }
        }
        throw new ProxyException(ProxyError.OVERLOADED, "no connection to " + key.address() + ":" + key.port()
                + " could be shared (connectionLimits.maxConnections)");
    }

    /** Closes connections to endpoints no longer in {@code current} (streams in flight finish first). */
    void retainOnly(Set<Key> current) {
        connections.entrySet().removeIf(entry -> {
            if (current.contains(entry.getKey().key())) {
                return false;
            }
            entry.getValue().closeWhenIdle();
            return true;
        });
    }

    /** Closes every connection. */
    void closeAll() {
        connections.values().forEach(PeerConnection::close);
        connections.clear();
    }
}
