package io.trellis.sidecar.tcp;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.handler.timeout.IdleStateHandler;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import io.trellis.sidecar.transport.EventLoops;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries an app's redirected connection that is not for the mesh to where it was going, as bytes (an external
 * HTTPS API, a database outside the mesh), the way Istio's passthrough cluster does: the app sees the far end as if
 * no proxy were there, its TLS included. Counted as service {@value #SERVICE}. A destination that does not answer
 * within {@link #CONNECT_TIMEOUT} resets the app's connection.
 */
final class Passthrough {
    private static final Logger LOG = LoggerFactory.getLogger(Passthrough.class);
    static final String SERVICE = "passthrough";
    private static final String DIRECTION = "outbound";
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration IDLE = Duration.ofHours(1);

    private final EventLoops loops;
    private final ProxyMetrics metrics;
    private final OpenConnections open;

    Passthrough(EventLoops loops, ProxyMetrics metrics, OpenConnections open) {
        this.loops = loops;
        this.metrics = metrics;
        this.open = open;
    }

    /** Resets {@code app}: the mesh's outbound policy is REGISTRY_ONLY (or the sidecar has no config yet). */
    void refuse(Channel app, InetSocketAddress original) {
        LOG.info("connection to {} refused: not a mesh destination, and the mesh's outbound traffic policy is REGISTRY_ONLY",
                original);
        metrics.tcpConnection(DIRECTION, SERVICE, "registry-only");
        app.config().setOption(ChannelOption.SO_LINGER, 0);
        app.close();
    }

    /** Connects to {@code original} and joins it with {@code app} (whose first bytes {@code EarlyBytes} holds). */
    void connect(Channel app, InetSocketAddress original) {
        loops.client(app.eventLoop(), CONNECT_TIMEOUT)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.AUTO_READ, false)
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel upstream) {
                        upstream.pipeline().addLast("errors", new OpenConnections.CloseOnFailure());
                    }
                })
                .connect(original).addListener((ChannelFuture connected) -> {
                    if (!connected.isSuccess()) {
                        LOG.info("passthrough to {} failed: {}", original, connected.cause().getMessage());
                        metrics.tcpConnection(DIRECTION, SERVICE, "upstream-connect-failure");
                        app.config().setOption(ChannelOption.SO_LINGER, 0);
                        app.close();
                        return;
                    }
                    Channel upstream = connected.channel();
                    open.add(upstream);
                    app.closeFuture().addListener(f -> upstream.close());
                    metrics.tcpConnection(DIRECTION, SERVICE, "accepted");
                    app.pipeline().addLast("idle", new IdleStateHandler(0, 0, IDLE.toMillis(), TimeUnit.MILLISECONDS));
                    EarlyBytes.release(app, upstream);
                    Relay.join(app, metrics.tcpBytes(DIRECTION, SERVICE, "to-upstream"),
                            upstream, metrics.tcpBytes(DIRECTION, SERVICE, "from-upstream"));
                    upstream.flush();
                });
    }
}
