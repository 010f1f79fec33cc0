package io.trellis.sidecar.tcp;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.AttributeKey;
import io.trellis.sidecar.SidecarConfig;
import io.trellis.sidecar.config.Cluster;
import io.trellis.sidecar.config.Endpoint;
import io.trellis.sidecar.config.RoutingTable;
import io.trellis.sidecar.config.RoutingTableRef;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.identity.WorkloadIdentity;
import io.trellis.sidecar.lifecycle.Drainable;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import io.trellis.sidecar.transport.EventLoops;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client side of opaque TCP: one 127.0.0.1 listener per {@code --upstream NAME[:PORT]=LOCALPORT/tcp}. Each
 * connection the app opens is carried to one endpoint of the service, as an mTLS tunnel to that endpoint's
 * sidecar ({@link TunnelServer}) that must prove the endpoint's identity, or directly for an ExternalService.
 * Nothing is read from the app until the far side has joined its app, so the app's bytes are never read by a
 * connection that then fails; a tunnel that could not reach the app (connect failure, TLS failure, a refusal that
 * says the app was never reached) is tried on another endpoint, up to {@link #MAX_ENDPOINTS} of them. Every other
 * refusal resets the app's connection, with a log line and the code counted ({@code trellis_tcp_connections_total}).
 * The number of open connections per service is bounded by its {@code connectionLimits.maxConnections}.
 */
public final class TcpUpstreams implements Drainable {
    private static final Logger LOG = LoggerFactory.getLogger(TcpUpstreams.class);
    private static final String DIRECTION = "outbound";
    /** How many endpoints a connection tries before it gives up. */
    static final int MAX_ENDPOINTS = 3;
    /** Why a tunnel ended before its answer, when its TLS handshake says more than the close does. */
    private static final AttributeKey<String> FAILURE = AttributeKey.valueOf("trellis.tunnel.failure");

    private final Map<String, Channel> listeners;
    private final OpenConnections open;
    private final DialerFactory dialers;
    private final Passthrough passthrough;

    /** Makes the dialer of one service's TCP (a declared upstream's, or a redirected connection's). */
    private interface DialerFactory {
        Dialer dialer(SidecarConfig.Upstream upstream);
    }

    private TcpUpstreams(Map<String, Channel> listeners, OpenConnections open, DialerFactory dialers, Passthrough passthrough) {
        this.listeners = listeners;
        this.open = open;
        this.dialers = dialers;
        this.passthrough = passthrough;
    }

    /** Binds one listener per TCP upstream in {@code declared}; HTTP upstreams are not this class's. */
    public static CompletionStage<TcpUpstreams> bind(EventLoops loops, WorkloadIdentity identity, RoutingTableRef tables,
            ProxyMetrics metrics, String namespace, List<SidecarConfig.Upstream> declared) {
        OpenConnections open = new OpenConnections();
        EndpointChooser chooser = new EndpointChooser();
        DialerFactory dialers = upstream -> new Dialer(loops, identity, tables, metrics, namespace, upstream, chooser, open);
        Map<String, Channel> listeners = new LinkedHashMap<>();
        CompletableFuture<Void> all = CompletableFuture.completedFuture(null);
        for (SidecarConfig.Upstream upstream : declared) {
            if (!upstream.tcp()) {
                continue;
            }
            Dialer dialer = dialers.dialer(upstream);
            ServerBootstrap bootstrap = loops.server()
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel app) {
                            app.pipeline().addLast("early", new EarlyBytes()).addLast("errors", new OpenConnections.CloseOnFailure());
                            open.add(app);
                            app.eventLoop().execute(() -> dialer.accepted(app));
                        }
                    });
            CompletableFuture<Void> bound = new CompletableFuture<>();
            bootstrap.bind("127.0.0.1", upstream.port()).addListener((ChannelFuture f) -> {
                if (f.isSuccess()) {
                    synchronized (listeners) {
                        listeners.put(upstream.key(), f.channel());
                    }
                    bound.complete(null);
                } else {
                    bound.completeExceptionally(f.cause());
                }
            });
            all = all.thenCombine(bound, (a, b) -> null);
        }
        return all.thenApply(done -> new TcpUpstreams(Map.copyOf(listeners), open, dialers,
                new Passthrough(loops, metrics, open)));
    }

    /**
     * The port of the TCP listener declared as {@code --upstream NAME[:PORT]=LOCALPORT/tcp}, looked up by
     * {@code NAME[:PORT]}; empty when none is declared.
     */
    public Optional<Integer> port(String name) {
        Channel listener = listeners.get(name);
        return listener == null ? Optional.empty() : Optional.of(((InetSocketAddress) listener.localAddress()).getPort());
    }

    /**
     * Carries a connection that a redirect brought to the main outbound port and that is not HTTP for the mesh: through
     * a tunnel to {@code mesh}'s TCP port {@code original.getPort()} (the address was one of the mesh's), or straight to
     * {@code original} when it is not the mesh's and {@code passThrough} allows it (else it is reset). Its first bytes
     * are fired into its pipeline after this returns, and held until the other side is joined. On the connection's
     * event loop.
     */
    public void redirected(Channel app, InetSocketAddress original, Optional<Cluster> mesh, boolean passThrough) {
        app.pipeline().addLast("early", new EarlyBytes()).addLast("errors", new OpenConnections.CloseOnFailure());
        open.add(app);
        if (mesh.isPresent()) {
            Cluster cluster = mesh.get();
            String service = cluster.name().name() + "." + cluster.name().namespace();
            dialers.dialer(new SidecarConfig.Upstream(service, 0, true, original.getPort())).accepted(app);
        } else if (passThrough) {
            passthrough.connect(app, original);
        } else {
            passthrough.refuse(app, original);
        }
    }

    @Override
    public CompletionStage<Void> stopAccepting() {
        List<CompletableFuture<Void>> closed = new ArrayList<>();
        for (Channel listener : listeners.values()) {
            closed.add(EventLoops.whenDone(listener.close()));
        }
        return CompletableFuture.allOf(closed.toArray(CompletableFuture[]::new));
    }

    @Override
    public CompletionStage<Void> drain(Duration deadline) {
        return open.drain(deadline);
    }


    /** Carries the connections of one upstream listener; runs on each connection's event loop. */
    private static final class Dialer {
        private final EventLoops loops;
        private final WorkloadIdentity identity;
        private final RoutingTableRef tables;
        private final ProxyMetrics metrics;
        private final String namespace;
        private final SidecarConfig.Upstream upstream;
        private final EndpointChooser chooser;
        private final OpenConnections open;

        Dialer(EventLoops loops, WorkloadIdentity identity, RoutingTableRef tables, ProxyMetrics metrics, String namespace,
                SidecarConfig.Upstream upstream, EndpointChooser chooser, OpenConnections open) {
            this.loops = loops;
            this.identity = identity;
            this.tables = tables;
            this.metrics = metrics;
            this.namespace = namespace;
            this.upstream = upstream;
            this.chooser = chooser;
            this.open = open;
        }

        void accepted(Channel app) {
            Optional<RoutingTable> table = tables.current();
            if (table.isEmpty()) {
                refuse(app, ProxyError.IDENTITY_UNAVAILABLE, "no config from the control plane yet");
                return;
            }
            Optional<Cluster> found = table.get().resolve(upstream.service(), namespace);
            if (found.isEmpty()) {
                refuse(app, ProxyError.NO_ROUTE, "no service " + upstream.service() + " in namespace " + namespace);
                return;
            }
            Cluster cluster = found.get();
            if (!cluster.external() && !identity.isIssued()) {
                refuse(app, ProxyError.IDENTITY_UNAVAILABLE, "this sidecar has no certificate yet");
                return;
            }
            int port = upstream.targetPort() != 0 ? upstream.targetPort()
                    : cluster.tcpPorts().isEmpty() ? 0 : cluster.tcpPorts().get(0);
            if (!cluster.external() && !cluster.tcpPorts().contains(port)) {
                refuse(app, ProxyError.NO_ROUTE, port == 0
                        ? "service " + cluster.name() + " declares no TCP port (TrafficPolicy spec.ports)"
                        : "service " + cluster.name() + " does not declare TCP port " + port + " (it declares "
                                + cluster.tcpPorts() + ")");
                return;
            }
            List<Endpoint> candidates = cluster.endpoints().stream()
                    .filter(e -> cluster.external() || e.tunnelPort() > 0).toList();
            if (candidates.isEmpty()) {
                refuse(app, ProxyError.NO_HEALTHY_ENDPOINT, cluster.endpoints().isEmpty()
                        ? "service " + cluster.name() + " has no endpoints"
                        : "no endpoint of " + cluster.name() + " has a tunnel listener (sidecars older than opaque TCP)");
                return;
            }
            if (!chooser.tryOpen(cluster.name().toString(), cluster.policy().limits().maxConnections())) {
                refuse(app, ProxyError.OVERLOADED, "service " + cluster.name() + " has "
                        + cluster.policy().limits().maxConnections() + " open TCP connections (connectionLimits.maxConnections)");
                return;
            }
            app.closeFuture().addListener(f -> chooser.closed(cluster.name().toString()));
            attempt(app, cluster, port, candidates, new ArrayList<>(), null);
        }

        private void attempt(Channel app, Cluster cluster, int port, List<Endpoint> candidates, List<Endpoint> tried,
                String lastFailure) {
            if (!app.isActive()) {
                return;
            }
            List<Endpoint> untried = candidates.stream().filter(e -> !tried.contains(e)).toList();
            if (untried.isEmpty() || tried.size() >= MAX_ENDPOINTS) {
                refuse(app, ProxyError.UPSTREAM_CONNECT_FAILURE, "no endpoint of " + cluster.name() + " could be reached"
                        + " (endpoints tried: " + tried.size() + "; last: " + lastFailure + ")");
                return;
            }
            Endpoint endpoint = chooser.pick(untried);
            tried.add(endpoint);
            long connectMillis = cluster.timeouts().connect().toMillis();
            String address = endpoint.address();
            int dialPort = cluster.external() ? endpoint.port() : endpoint.tunnelPort();
            chooser.started(endpoint);
            Bootstrap bootstrap = loops.client(app.eventLoop(), cluster.timeouts().connect())
                    .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .handler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel upstreamChannel) {
                            upstreamChannel.closeFuture().addListener(f -> chooser.ended(endpoint));
                            if (cluster.external()) {
                                upstreamChannel.config().setAutoRead(false);
                                upstreamChannel.pipeline().addLast("errors", new OpenConnections.CloseOnFailure());
                                return;
                            }
                            SslHandler tls = identity.tunnelClientContext(endpoint.identity())
                                    .newHandler(upstreamChannel.alloc(), address, dialPort);
                            tls.setHandshakeTimeoutMillis(connectMillis);
                            upstreamChannel.pipeline().addLast("tls", tls).addLast("line", new LineReader(new LineReader.Listener() {
                                @Override
                                public void line(Channel tunnel, String line) {
                                    answered(app, tunnel, cluster, port, candidates, tried, endpoint, line);
                                }

                                @Override
                                public void malformed(Channel tunnel, String why) {
                                    tunnel.close();
                                    String handshake = tunnel.attr(FAILURE).get();
                                    attempt(app, cluster, port, candidates, tried, endpoint.authority() + ": "
                                            + (handshake != null ? handshake : why));
                                }
                            })).addLast("errors", new OpenConnections.CloseOnFailure());
                        }
                    });
            bootstrap.connect(address, dialPort).addListener((ChannelFuture connected) -> {
                Channel upstreamChannel = connected.channel();
                if (!connected.isSuccess()) {
                    attempt(app, cluster, port, candidates, tried, endpoint.authority() + ": " + connected.cause().getMessage());
                    return;
                }
                app.closeFuture().addListener(f -> upstreamChannel.close());
                if (cluster.external()) {
                    join(app, upstreamChannel, cluster);
                    return;
                }
                upstreamChannel.pipeline().get(SslHandler.class).handshakeFuture().addListener(handshake -> {
                    if (handshake.isSuccess()) {
                        upstreamChannel.writeAndFlush(Unpooled.wrappedBuffer(TunnelProtocol.request(port)));
                    } else {
                        // The channel closes, and the line reader then reports the tunnel as ended: with this cause.
                        upstreamChannel.attr(FAILURE).set("TLS handshake failed (" + handshake.cause().getMessage() + ")");
                    }
                });
            });
        }

        private void answered(Channel app, Channel tunnel, Cluster cluster, int port, List<Endpoint> candidates,
                List<Endpoint> tried, Endpoint endpoint, String line) {
            Optional<ProxyError> refusal = TunnelProtocol.refusal(line);
            if (refusal.isEmpty()) {
                tunnel.pipeline().remove("errors");
                EarlyBytes.release(tunnel, app);
                join(app, tunnel, cluster);
                return;
            }
            tunnel.close();
            ProxyError error = refusal.get();
            if (error == ProxyError.UPSTREAM_CONNECT_FAILURE || error == ProxyError.OVERLOADED
                    || error == ProxyError.IDENTITY_UNAVAILABLE) {
                // The far side never reached its app: another endpoint may.
                attempt(app, cluster, port, candidates, tried, endpoint.authority() + " answered " + error.code());
            } else {
                refuse(app, error, endpoint.authority() + " (" + endpoint.identity() + ") refused the tunnel to port " + port);
            }
        }

        private void join(Channel app, Channel upstreamChannel, Cluster cluster) {
            String service = upstream.service();
            metrics.tcpConnection(DIRECTION, service, "accepted");
            var active = metrics.tcpActive(DIRECTION, service);
            active.incrementAndGet();
            app.closeFuture().addListener(f -> active.decrementAndGet());
            app.pipeline().addLast("idle", new IdleStateHandler(0, 0, cluster.timeouts().idle().toMillis(), TimeUnit.MILLISECONDS));
            EarlyBytes.release(app, upstreamChannel);
            Relay.join(app, metrics.tcpBytes(DIRECTION, service, "to-upstream"),
                    upstreamChannel, metrics.tcpBytes(DIRECTION, service, "from-upstream"));
            app.flush();
        }

        /** Resets the app's connection (a TCP refusal has no body), with a log line and the code counted. */
        private void refuse(Channel app, ProxyError error, String why) {
            LOG.info("tcp connection to {} refused ({}): {}", upstream.service(), error.code(), why);
            metrics.tcpConnection(DIRECTION, upstream.service(), error.code());
            app.config().setOption(ChannelOption.SO_LINGER, 0);
            app.close();
        }
    }
}
