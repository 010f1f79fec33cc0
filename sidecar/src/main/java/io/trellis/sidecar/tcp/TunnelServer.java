package io.trellis.sidecar.tcp;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.trellis.certs.PeerCertificateVerifier;
import io.trellis.certs.SpiffeId;
import io.trellis.sidecar.config.InboundPolicy;
import io.trellis.sidecar.config.RoutingTable;
import io.trellis.sidecar.config.RoutingTableRef;
import io.trellis.sidecar.config.Timeouts;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.identity.WorkloadIdentity;
import io.trellis.sidecar.inbound.Authorizer;
import io.trellis.sidecar.lifecycle.Drainable;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import io.trellis.sidecar.transport.EventLoops;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLPeerUnverifiedException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server side of opaque TCP: an mTLS listener for tunnels from other sidecars. A caller must present a mesh
 * certificate at the handshake; it then names an app port ({@link TunnelProtocol}), which must be one its service
 * declares as TCP ({@code TrafficPolicy spec.ports}: no other local port is ever dialled) and which the service's
 * AuthorizationPolicies must allow the caller's identity to reach ({@link Authorizer#tcpDenial}). Then the
 * sidecar connects to the app on 127.0.0.1 and joins the two connections. Refusals are answered with a code of
 * the one error table, logged and counted. Every connection is bounded in time until it is joined (handshake and
 * line), and the number of open tunnels is capped.
 */
public final class TunnelServer implements Drainable {
    private static final Logger LOG = LoggerFactory.getLogger(TunnelServer.class);
    private static final String DIRECTION = "inbound";
    /** From accept to a complete request line: the handshake and one short line need far less. */
    private static final Duration SETUP_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration APP_CONNECT_TIMEOUT = Duration.ofSeconds(5);
    private static final int MAX_TUNNELS = 4096;

    private final Channel listener;
    private final OpenConnections open;

    private TunnelServer(Channel listener, OpenConnections open) {
        this.listener = listener;
        this.open = open;
    }

    /** Binds the tunnel listener on {@code address:port} (port 0 = any free port). */
    public static CompletionStage<TunnelServer> bind(EventLoops loops, WorkloadIdentity identity, RoutingTableRef tables,
            ProxyMetrics metrics, String service, String address, int port) {
        OpenConnections open = new OpenConnections();
        AtomicLong active = metrics.tcpActive(DIRECTION, service);
        ServerBootstrap bootstrap = loops.server()
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel channel) {
                        if (open.size() >= MAX_TUNNELS) {
                            refuse(channel, metrics, service, ProxyError.OVERLOADED, MAX_TUNNELS + " tunnels are open", false);
                            return;
                        }
                        open.add(channel);
                        SslHandler tls = identity.tunnelServerContext().newHandler(channel.alloc());
                        tls.setHandshakeTimeoutMillis(SETUP_TIMEOUT.toMillis());
                        ScheduledFuture<?> deadline = channel.eventLoop().schedule(() -> {
                            LOG.info("tcp tunnel from {}: no request line within {}; closing", channel.remoteAddress(), SETUP_TIMEOUT);
                            channel.close();
                        }, SETUP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                        channel.closeFuture().addListener(f -> deadline.cancel(false));
                        channel.pipeline().addLast("tls", tls).addLast("line", new LineReader(new LineReader.Listener() {
                            @Override
                            public void line(Channel tunnel, String line) {
                                deadline.cancel(false);
                                accept(loops, tunnel, line, tables, metrics, service, active);
                            }

                            @Override
                            public void malformed(Channel tunnel, String why) {
                                if (tunnel.isActive()) {
                                    refuse(tunnel, metrics, service, ProxyError.BAD_REQUEST, why, true);
                                }
                            }
                        })).addLast("errors", new OpenConnections.CloseOnFailure());
                    }
                });
        CompletableFuture<TunnelServer> bound = new CompletableFuture<>();
        bootstrap.bind(address, port).addListener((ChannelFuture f) -> {
            if (f.isSuccess()) {
                bound.complete(new TunnelServer(f.channel(), open));
            } else {
                bound.completeExceptionally(f.cause());
            }
        });
        return bound;
    }

    private static void accept(EventLoops loops, Channel tunnel, String line, RoutingTableRef tables, ProxyMetrics metrics, String service,
            AtomicLong active) {
        Optional<Integer> requested = TunnelProtocol.requestedPort(line);
        if (requested.isEmpty()) {
            refuse(tunnel, metrics, service, ProxyError.BAD_REQUEST, "not a tunnel request: '" + line + "'", true);
            return;
        }
        int port = requested.get();
        SpiffeId peer;
        try {
            X509Certificate leaf = (X509Certificate) tunnel.pipeline().get(SslHandler.class).engine().getSession()
                    .getPeerCertificates()[0];
            peer = PeerCertificateVerifier.uriSanIdentity(leaf);
        } catch (SSLPeerUnverifiedException | java.security.cert.CertificateException e) {
            refuse(tunnel, metrics, service, ProxyError.DENIED, "no verified peer identity (" + e.getMessage() + ")", true);
            return;
        }
        Optional<RoutingTable> table = tables.current();
        if (table.isEmpty()) {
            refuse(tunnel, metrics, service, ProxyError.IDENTITY_UNAVAILABLE, "no config from the control plane yet", true);
            return;
        }
        InboundPolicy policy = table.get().inbound();
        if (!policy.tcpPorts().contains(port)) {
            refuse(tunnel, metrics, service, ProxyError.NO_ROUTE, peer + " asked for port " + port
                    + ", which service " + service + " does not declare as TCP (TrafficPolicy spec.ports)", true);
            return;
        }
        Optional<String> denial = Authorizer.tcpDenial(policy, peer, port);
        if (denial.isPresent()) {
            refuse(tunnel, metrics, service, ProxyError.DENIED, denial.get(), true);
            return;
        }
        loops.client(tunnel.eventLoop(), APP_CONNECT_TIMEOUT)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .handler(new OpenConnections.CloseOnFailure())
                .connect(new InetSocketAddress("127.0.0.1", port))
                .addListener((ChannelFuture connected) -> {
                    if (!connected.isSuccess()) {
                        refuse(tunnel, metrics, service, ProxyError.UPSTREAM_CONNECT_FAILURE, "the app does not accept"
                                + " connections on 127.0.0.1:" + port + " (" + connected.cause().getMessage() + ")", true);
                        return;
                    }
                    Channel app = connected.channel();
                    if (!tunnel.isActive()) {
                        // It ended, or sent more than is held, while the app was being reached.
                        app.close();
                        return;
                    }
                    metrics.tcpConnection(DIRECTION, service, "accepted");
                    active.incrementAndGet();
                    app.closeFuture().addListener(f -> active.decrementAndGet());
                    tunnel.pipeline().remove("errors");
                    tunnel.write(Unpooled.wrappedBuffer(TunnelProtocol.accepted()));
                    EarlyBytes.release(tunnel, app);
                    app.pipeline().addLast("idle", new IdleStateHandler(0, 0, Timeouts.DEFAULTS.idle().toSeconds(), TimeUnit.SECONDS));
                    Relay.join(tunnel, metrics.tcpBytes(DIRECTION, service, "to-upstream"),
                            app, metrics.tcpBytes(DIRECTION, service, "from-upstream"));
                    tunnel.flush();
                    app.flush();
                    LOG.debug("tcp tunnel from {} joined to 127.0.0.1:{}", peer, port);
                });
    }

    /**
     * Refuses a connection: logs why, counts it, and (when {@code answer}) tells the peer sidecar the code before
     * closing, so it can report it (and retry another endpoint when the app was never reached).
     */
    private static void refuse(Channel channel, ProxyMetrics metrics, String service, ProxyError error, String why,
            boolean answer) {
        LOG.info("tcp tunnel from {} refused ({}): {}", channel.remoteAddress(), error.code(), why);
        metrics.tcpConnection(DIRECTION, service, error.code());
        if (answer) {
            channel.writeAndFlush(Unpooled.wrappedBuffer(TunnelProtocol.refused(error))).addListener(ChannelFutureListener.CLOSE);
        } else {
            channel.close();
        }
    }

    /** The port the listener is bound to. */
    public int port() {
        return ((InetSocketAddress) listener.localAddress()).getPort();
    }

    @Override
    public CompletionStage<Void> stopAccepting() {
        return EventLoops.whenDone(listener.close());
    }

    @Override
    public CompletionStage<Void> drain(Duration deadline) {
        return open.drain(deadline);
    }
}
