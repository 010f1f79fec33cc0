package io.trellis.sidecar.outbound;

import io.trellis.certs.SpiffeId;
import io.trellis.sidecar.config.Cluster;
import io.trellis.sidecar.config.ClusterPolicy;
import io.trellis.sidecar.config.Endpoint;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.identity.WorkloadIdentity;
import io.trellis.sidecar.transport.EventLoops;
import io.trellis.sidecar.transport.netty.PeerConnection;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.stream.Materializer;

/**
 * HTTP/2-over-mTLS connections to peer sidecars ({@link PeerConnection}, on Netty), one multiplexed connection per
 * endpoint, opened on first use and replaced when it ends or the peer sends GOAWAY. Each connection's TLS insists
 * that the server proves exactly the identity the snapshot expects for that endpoint (no hostname check: the
 * SPIFFE ID is the name). Thread-safe.
 */
final class PeerConnectionPool {
    /** What a connection is for: the same address with another expected identity is another connection. */
    record Key(String address, int port, SpiffeId identity) {
    }

    private final EventLoops loops;
    private final Materializer materializer;
    private final WorkloadIdentity identity;
    private final ConcurrentHashMap<Key, PeerConnection> connections = new ConcurrentHashMap<>();

    PeerConnectionPool(EventLoops loops, Materializer materializer, WorkloadIdentity identity) {
        this.loops = loops;
        this.materializer = materializer;
        this.identity = identity;
    }

    /**
     * Sends {@code request} to {@code endpoint} of {@code cluster} over its connection, opening one if needed;
     * fails with {@code overloaded} when that would exceed the cluster's {@code maxConnections}, or when the
     * connection already holds {@code maxPendingRequests} requests waiting for it. When {@code abandoned} completes
     * before the exchange ended, its stream is reset.
     */
    CompletionStage<HttpResponse> send(Cluster cluster, Endpoint endpoint, HttpRequest request, CompletionStage<?> abandoned) {
        Key key = key(endpoint);
        PeerConnection connection = connections.get(key);
        if (connection == null || !connection.isOpen()) {
            // Only the rare (re)connect takes the map's lock; concurrent requests open one connection between them.
            connection = connections.compute(key, (k, existing) -> existing != null && existing.isOpen() ? existing
                    : openWithinLimit(cluster, k, existing));
        }
        return connection.send(request, abandoned);
    }

    private static Key key(Endpoint endpoint) {
        return new Key(endpoint.address(), endpoint.port(), endpoint.identity());
    }

    private PeerConnection openWithinLimit(Cluster cluster, Key key, PeerConnection replaced) {
        int open = 0;
        for (Endpoint endpoint : cluster.endpoints()) {
            PeerConnection existing = connections.get(key(endpoint));
            if (existing != null && existing.isOpen()) {
                open++;
            }
        }
        ClusterPolicy.Limits limits = cluster.policy().limits();
        if (open >= limits.maxConnections()) {
            throw new ProxyException(ProxyError.OVERLOADED, cluster.name() + " already has " + open
                    + " connections open (connectionLimits.maxConnections)");
        }
        if (replaced != null) {
            // Gone away or broken: its streams in flight finish (or fail) on their own; new ones go to the new one.
            replaced.closeWhenIdle();
        }
        return PeerConnection.open(loops, identity.peerContext(key.identity()), key.address(), key.port(),
                cluster.timeouts().connect(), cluster.timeouts().idle(), Math.max(1, limits.maxPendingRequests()), materializer);
    }

    /** Closes connections to endpoints no longer in {@code current} (streams in flight finish first). */
    void retainOnly(Set<Key> current) {
        connections.entrySet().removeIf(entry -> {
            if (current.contains(entry.getKey())) {
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
