package io.trellis.sidecar.transport.netty;

import io.netty.channel.Channel;
import java.net.InetSocketAddress;
import java.util.Optional;

/**
 * What a listener fed by a NAT redirect (the app's outbound TCP, {@code trellis init-iptables}) does with a connection
 * that was going somewhere else: an HTTP connection for the mesh is served as HTTP; anything else is taken over as
 * bytes.
 */
public interface Redirects {
    /**
     * The mesh service an HTTP/1.1 connection to {@code original} is for: {@code ""} to route each request by its
     * authority (the {@code Host} names a mesh service), a service name when the address is one of the mesh's, or
     * empty when it is not the mesh's (the connection is then {@link #tcp taken over as bytes}).
     *
     * @param host the first request's {@code Host}, without its port; null for h2c, whose authority is not read here
     */
    Optional<String> http(InetSocketAddress original, String host);

    /**
     * Takes over {@code connection} (auto-read off, what it sent first held by its pipeline's {@code EarlyBytes}): to
     * the mesh's TCP service at {@code original}, or through to {@code original} when it is not the mesh's. On the
     * connection's event loop.
     */
    void tcp(Channel connection, InetSocketAddress original);
}
