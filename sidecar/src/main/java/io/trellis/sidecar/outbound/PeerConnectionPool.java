package io.trellis.sidecar.outbound;

import io.trellis.certs.MeshTls;
import io.trellis.certs.SpiffeId;
import io.trellis.sidecar.config.Cluster;
import io.trellis.sidecar.config.ClusterPolicy;
import io.trellis.sidecar.config.Endpoint;
import io.trellis.sidecar.config.Timeouts;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.identity.WorkloadIdentity;
import io.trellis.sidecar.transport.Http2Connection;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLEngine;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.ConnectionContext;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.HttpsConnectionContext;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.settings.ClientConnectionSettings;
import org.apache.pekko.stream.Materializer;

/**
 * HTTP/2-over-mTLS connections to peer sidecars, one multiplexed connection per endpoint, opened on first
 * use and replaced when it ends. Each connection's TLS insists that the server proves exactly the identity
 * the snapshot expects for that endpoint (no hostname check: the SPIFFE ID is the name). Thread-safe.
 */
final class PeerConnectionPool {
    /** What a connection is for: the same address with another expected identity is another connection. */
    record Key(String address, int port, SpiffeId identity) {
    }

    private final ActorSystem<?> system;
    private final Materializer materializer;
    private final WorkloadIdentity identity;
    private final ConcurrentHashMap<Key, Http2Connection> connections = new ConcurrentHashMap<>();

    PeerConnectionPool(ActorSystem<?> system, WorkloadIdentity identity) {
        this.system = system;
        this.materializer = Materializer.matFromSystem(system);
        this.identity = identity;
    }

    /**
     * Sends {@code request} to {@code endpoint} of {@code cluster} over its connection, opening one if needed;
     * fails with {@code overloaded} when that would exceed the cluster's {@code maxConnections}, or when the
     * connection already holds {@code maxPendingRequests} requests waiting for a stream.
     */
    CompletionStage<HttpResponse> send(Cluster cluster, Endpoint endpoint, HttpRequest request) {
        Key key = key(endpoint);
        Http2Connection connection = connections.get(key);
        if (connection == null || !connection.isOpen()) {
            // Only the rare (re)connect takes the map's lock; concurrent requests open one connection between them.
            connection = connections.compute(key, (k, existing) -> existing != null && existing.isOpen() ? existing
                    : openWithinLimit(cluster, k));
        }
        return connection.send(request);
    }

    private static Key key(Endpoint endpoint) {
        return new Key(endpoint.address(), endpoint.port(), endpoint.identity());
    }

    private Http2Connection openWithinLimit(Cluster cluster, Key key) {
        int open = 0;
        for (Endpoint endpoint : cluster.endpoints()) {
            Http2Connection existing = connections.get(key(endpoint));
            if (existing != null && existing.isOpen()) {
                open++;
            }
        }
        ClusterPolicy.Limits limits = cluster.policy().limits();
        if (open >= limits.maxConnections()) {
            throw new ProxyException(ProxyError.OVERLOADED, cluster.name() + " already has " + open
                    + " connections open (connectionLimits.maxConnections)");
        }
        return open(key, cluster.timeouts(), Math.max(1, limits.maxPendingRequests()));
    }

    /** Closes connections to endpoints no longer in {@code current} (streams in flight finish first). */
    void retainOnly(Set<Key> current) {
        connections.entrySet().removeIf(entry -> {
            if (current.contains(entry.getKey())) {
                return false;
            }
            entry.getValue().close();
            return true;
        });
    }

    /** Closes every connection. */
    void closeAll() {
        retainOnly(Set.of());
    }

    private Http2Connection open(Key key, Timeouts timeouts, int maxPending) {
        HttpsConnectionContext tls = ConnectionContext.httpsClient((host, port) -> {
            SSLEngine engine = identity.clientContext(key.identity()).createSSLEngine(host, port);
            engine.setUseClientMode(true);
            engine.setEnabledProtocols(MeshTls.PROTOCOLS);
            return engine;
        });
        ClientConnectionSettings settings = ClientConnectionSettings.create(system.settings().config())
                .withConnectingTimeout(timeouts.connect()).withIdleTimeout(timeouts.idle());
        return Http2Connection.open(key.address() + ":" + key.port(),
                Http.get(system).connectionTo(key.address()).toPort(key.port()).withCustomHttpsConnectionContext(tls)
                        .withClientConnectionSettings(settings).http2(),
                maxPending, materializer);
    }
}
