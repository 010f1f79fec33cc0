package io.trellis.sidecar.transport.netty;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.trellis.sidecar.lifecycle.Drainable;
import io.trellis.sidecar.transport.EventLoops;
import io.trellis.sidecar.transport.OriginalDestination;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.apache.pekko.stream.Materializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An HTTP server on Netty for a pipeline: each connection's first bytes say what it speaks, TLS (a handshake
 * record, then HTTP/2 or HTTP/1.1 by ALPN) or plaintext (the HTTP/2 preface for h2c with prior knowledge, else
 * HTTP/1.1), so the inbound port serves mTLS and, in PERMISSIVE mode, plaintext callers on one port; the pipeline
 * decides what each may do. HTTP/2 streams are independent (a reset stream is that stream's end only) and bounded by Netty's flood
 * protections, with a reset allowance sized for legitimate cancellation storms between sidecars, and, from callers that
 * are not sidecars, by the share of streams they reset at once ({@link PrematureResets}). Connections beyond the
 * listener's cap are reset as they are accepted ({@link ConnectionCap}); every limit's refusals are counted. Draining sends
 * GOAWAY on HTTP/2 connections, closes HTTP/1.1 connections after their current exchange, and closes what is left
 * at the deadline.
 */
public final class NettyHttpServer implements Drainable {
    private static final Logger LOG = LoggerFactory.getLogger(NettyHttpServer.class);
    private static final AttributeKey<Boolean> HTTP2 = AttributeKey.valueOf("trellis.http2");
    private static final AttributeKey<Boolean> DRAINING = AttributeKey.valueOf("trellis.draining");
    private static final Duration IDLE = Duration.ofMinutes(5);
    /** How long an HTTP/1.1 request head may take from its first byte (slowloris), and a new connection its first bytes. */
    static final Duration HEAD_TIMEOUT = Duration.ofSeconds(10);
    /**
     * How long a redirected connection may stay silent before it is taken for a protocol where the server speaks first
     * (SMTP, MySQL, FTP) and carried as bytes.
     */
    static final Duration SERVER_FIRST_WAIT = Duration.ofSeconds(1);
    /**
     * Streams one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS; Netty refuses those beyond
     * with REFUSED_STREAM, which callers may retry). A calling sidecar queues what is beyond it; an app's client
     * honours it as HTTP/2 requires.
     */
    static final int MAX_STREAMS = 1_000;
    /** RST_STREAM frames a connection may send per window before it is closed (CVE-2023-44487). */
    private static final int MAX_RESETS = 2_000;
    private static final int RESET_WINDOW_SECONDS = 30;

    private final Channel listener;
    private final ChannelGroup connections;
    private final AtomicInteger exchanges;

    private NettyHttpServer(Channel listener, ChannelGroup connections, AtomicInteger exchanges) {
        this.listener = listener;
        this.connections = connections;
        this.exchanges = exchanges;
    }

    /**
     * Binds on {@code address:port} (0 = any free port).
     *
     * @param tls the TLS context for connections that start with a handshake (read per connection, so renewals
     *     apply); null for a plaintext-only listener, where a handshake is just a malformed HTTP/1.1 request
     * @param limits the bounds this listener enforces, and where it reports what they refused
     * @param redirects for a listener that a NAT redirect feeds (the main outbound port): what becomes of connections
     *     that were going elsewhere; null for every other listener
     */
    public static CompletionStage<NettyHttpServer> bind(EventLoops loops, Supplier<SslContext> tls, RequestHandler handler,
            Materializer materializer, String service, ListenerLimits limits, String address, int port, Redirects redirects) {
        ChannelGroup connections = new DefaultChannelGroup("http", GlobalEventExecutor.INSTANCE);
        AtomicInteger exchanges = new AtomicInteger();
        Connections setup = new Connections(tls, handler, materializer, service, limits, exchanges, redirects);
        ConnectionCap cap = new ConnectionCap(limits);
        ServerBootstrap bootstrap = loops.server()
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel channel) {
                        if (!cap.admit(channel)) {
                            return;
                        }
                        connections.add(channel);
                        InetSocketAddress original = redirects == null ? null : OriginalDestination.of(channel).orElse(null);
                        channel.pipeline().addLast("idle", new IdleStateHandler(0, 0, IDLE.toSeconds(), TimeUnit.SECONDS))
                                .addLast("sniff", setup.new Sniffer(original));
                        channel.pipeline().addLast("quiet", new Quiet(limits));
                    }
                });
        CompletableFuture<NettyHttpServer> bound = new CompletableFuture<>();
        bootstrap.bind(address, port).addListener((ChannelFuture f) -> {
            if (f.isSuccess()) {
                bound.complete(new NettyHttpServer(f.channel(), connections, exchanges));
            } else {
                bound.completeExceptionally(f.cause());
            }
        });
        return bound;
    }

    /** The port the listener is bound to. */
    public int port() {
        return ((InetSocketAddress) listener.localAddress()).getPort();
    }

    @Override
    public CompletionStage<Void> stopAccepting() {
        return EventLoops.whenDone(listener.close());
    }

    /** Stops accepting and closes every connection at once, without draining: for the admin and API listeners. */
    public CompletionStage<Void> close() {
        return stopAccepting().thenCompose(stopped -> EventLoops.whenDone(connections.close()));
    }

    @Override
    public CompletionStage<Void> drain(Duration deadline) {
        for (Channel connection : connections) {
            connection.eventLoop().execute(() -> {
                connection.attr(DRAINING).set(true);
                if (Boolean.TRUE.equals(connection.attr(HTTP2).get())) {
                    connection.writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR));
                }
            });
        }
        CompletableFuture<Void> drained = new CompletableFuture<>();
        long until = System.nanoTime() + deadline.toNanos();
        GlobalEventExecutor.INSTANCE.execute(new Runnable() {
            @Override
            public void run() {
                if (exchanges.get() == 0 || System.nanoTime() - until >= 0) {
                    connections.close().addListener(f -> drained.complete(null));
                } else {
                    GlobalEventExecutor.INSTANCE.schedule(this, 50, TimeUnit.MILLISECONDS);
                }
            }
        });
        return drained;
    }

    /** Builds each connection's pipeline once it is known what the connection speaks. */
    private static final class Connections {
        private static final byte TLS_HANDSHAKE = 0x16;

        private final Supplier<SslContext> tls;
        private final RequestHandler handler;
        private final Materializer materializer;
        private final String service;
        private final ListenerLimits limits;
        private final AtomicInteger exchanges;
        private final Redirects redirects;

        Connections(Supplier<SslContext> tls, RequestHandler handler, Materializer materializer, String service,
                ListenerLimits limits, AtomicInteger exchanges, Redirects redirects) {
            this.tls = tls;
            this.handler = handler;
            this.materializer = materializer;
            this.service = service;
            this.limits = limits;
            this.exchanges = exchanges;
            this.redirects = redirects;
        }

        /**
         * Reads just enough of a new connection to tell TLS, h2c and HTTP/1.1 apart; a connection that says nothing
         * for {@link #HEAD_TIMEOUT} is closed. A connection a redirect brought ({@code original} is where it was
         * going) is HTTP only when it starts like a request and is for the mesh (its {@code Host}, or the address);
         * anything else, and one that says nothing for {@link #SERVER_FIRST_WAIT} (the protocols where the server
         * speaks first), goes to {@link Redirects#tcp} as bytes.
         */
        final class Sniffer extends ByteToMessageDecoder {
            private final InetSocketAddress original;
            private io.netty.util.concurrent.ScheduledFuture<?> silence;
            /** A redirected connection sent the start of a request head: it is not waiting for the server. */
            private boolean spoke;

            Sniffer(InetSocketAddress original) {
                this.original = original;
            }

            @Override
            public void handlerAdded(ChannelHandlerContext ctx) {
                if (original != null) {
                    silence = ctx.executor().schedule(() -> asBytes(ctx, Unpooled.EMPTY_BUFFER),
                            SERVER_FIRST_WAIT.toMillis(), TimeUnit.MILLISECONDS);
                    return;
                }
                closeIfSilent(ctx);
            }

            /** Closes the connection unless what it sends is told apart within {@link #HEAD_TIMEOUT}. */
            private void closeIfSilent(ChannelHandlerContext ctx) {
                silence = ctx.executor().schedule(() -> {
                    LOG.debug("closing {}: nothing sent within {} ms", ctx.channel(), HEAD_TIMEOUT.toMillis());
                    limits.hit(Limit.FIRST_BYTES_TIMEOUT);
                    ctx.close();
                }, HEAD_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            }

            @Override
            protected void handlerRemoved0(ChannelHandlerContext ctx) {
                silence.cancel(false);
            }

            @Override
            protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
                if (!in.isReadable()) {
                    return;
                }
                ChannelPipeline pipeline = ctx.pipeline();
                if (tls != null && in.getByte(in.readerIndex()) == TLS_HANDSHAKE) {
                    SslHandler handshake = tls.get().newHandler(ctx.alloc());
                    handshake.setHandshakeTimeoutMillis(10_000);
                    pipeline.addAfter(ctx.name(), "alpn", new Negotiated(handshake));
                    pipeline.replace(this, "tls", handshake);
                    return;
                }
                ByteBuf preface = Http2CodecUtil.connectionPrefaceBuf();
                int compared = Math.min(in.readableBytes(), preface.readableBytes());
                boolean h2c = ByteBufUtil.equals(in, in.readerIndex(), preface, 0, compared);
                preface.release();
                if (h2c && compared < Http2CodecUtil.connectionPrefaceBuf().readableBytes()) {
                    return;
                }
                String connectionService = service;
                if (original != null) {
                    RedirectedHead head = RedirectedHead.read(in, limits.maxHeaderBytes());
                    if (head == RedirectedHead.INCOMPLETE) {
                        // The client spoke first: not a server-first protocol; a head that never ends is closed.
                        if (!spoke) {
                            spoke = true;
                            silence.cancel(false);
                            closeIfSilent(ctx);
                        }
                        return;
                    }
                    Optional<String> mesh = h2c ? Optional.of(redirects.http(original, null).orElse(""))
                            : head.http() ? redirects.http(original, head.host()) : Optional.empty();
                    if (mesh.isEmpty()) {
                        asBytes(ctx, in.readRetainedSlice(in.readableBytes()));
                        return;
                    }
                    connectionService = mesh.get();
                }
                if (h2c) {
                    http2(pipeline, ctx.name(), null, connectionService);
                } else {
                    http1(pipeline, ctx.name(), null, connectionService);
                }
                pipeline.remove(this);
            }

            /**
             * Hands the connection, with what it sent so far, to {@link Redirects#tcp}, which puts what holds its bytes
             * into the pipeline before this decoder leaves it.
             */
            private void asBytes(ChannelHandlerContext ctx, ByteBuf sent) {
                Channel connection = ctx.channel();
                ChannelPipeline pipeline = ctx.pipeline();
                connection.config().setAutoRead(false);
                connection.config().setOption(io.netty.channel.ChannelOption.ALLOW_HALF_CLOSURE, true);
                for (String name : List.of("idle", "quiet")) {
                    if (pipeline.get(name) != null) {
                        pipeline.remove(name);
                    }
                }
                redirects.tcp(connection, original);
                pipeline.remove(this);
                if (sent.isReadable()) {
                    pipeline.fireChannelRead(sent);
                } else {
                    sent.release();
                }
            }
        }

        /** After the TLS handshake: the protocol ALPN chose (HTTP/1.1 when the caller offered none). */
        final class Negotiated extends ApplicationProtocolNegotiationHandler {
            private final SslHandler handshake;

            Negotiated(SslHandler handshake) {
                super(ApplicationProtocolNames.HTTP_1_1);
                this.handshake = handshake;
            }

            @Override
            protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
                javax.net.ssl.SSLSession session = handshake.engine().getSession();
                if (ApplicationProtocolNames.HTTP_2.equals(protocol)) {
                    http2(ctx.pipeline(), ctx.name(), session, service);
                } else {
                    http1(ctx.pipeline(), ctx.name(), session, service);
                }
            }

            @Override
            protected void handshakeFailure(ChannelHandlerContext ctx, Throwable cause) {
                LOG.debug("TLS handshake from {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
                ctx.close();
            }
        }

        private void http2(ChannelPipeline pipeline, String after, javax.net.ssl.SSLSession session, String connectionService) {
            Channel connection = pipeline.channel();
            connection.attr(HTTP2).set(true);
            PekkoHttp.Origin origin = new PekkoHttp.Origin(session, connectionService, limits.underscores());
            // Over mTLS the caller is another sidecar, whose resets are its own callers' cancellations, already bounded
            // where they entered the mesh; counting them again here would cycle the connection every 500 streams for
            // one app's timeouts. The fixed reset allowance below bounds every connection, a stolen certificate's too.
            PrematureResets resets = session == null ? new PrematureResets(connection, limits) : null;
            pipeline.addAfter(after, "flushes", new Http2Flushes());
            pipeline.addAfter("flushes", "h2", Http2FrameCodecBuilder.forServer()
                    .initialSettings((session != null ? PeerFlowWindow.settings() : Http2Settings.defaultSettings())
                            .maxHeaderListSize(limits.maxHeaderBytes()).maxConcurrentStreams(MAX_STREAMS))
                    .decoderEnforceMaxRstFramesPerWindow(MAX_RESETS, RESET_WINDOW_SECONDS).build());
            pipeline.addAfter("h2", "streams", new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                @Override
                protected void initChannel(Http2StreamChannel stream) {
                    stream.config().setAutoRead(false);
                    stream.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(true),
                            new ServerExchange(true, origin, handler, materializer, exchanges::incrementAndGet,
                                    exchanges::decrementAndGet, limits, null, resets));
                }
            }));
            pipeline.addAfter("streams", "control-limit", new ControlFrameLimit(limits));
        }

        private void http1(ChannelPipeline pipeline, String after, javax.net.ssl.SSLSession session, String connectionService) {
            Channel connection = pipeline.channel();
            connection.config().setAutoRead(false);
            PekkoHttp.Origin origin = new PekkoHttp.Origin(session, connectionService, limits.underscores());
            RequestHeadTimer headTimer = new RequestHeadTimer(HEAD_TIMEOUT, limits);
            pipeline.addAfter(after, "head-timer", headTimer);
            pipeline.addAfter("head-timer", "http1", new HttpServerCodec(Http1Framing.decoderConfig(limits.maxHeaderBytes())));
            // Expect: 100-continue is answered here at once and removed (as Envoy does): the body then streams through
            // with backpressure, and the client never waits out its expect timeout.
            pipeline.addAfter("http1", "expect", new io.netty.handler.codec.http.HttpServerExpectContinueHandler());
            pipeline.addAfter("expect", "exchange", new ServerExchange(false, origin, handler, materializer,
                    exchanges::incrementAndGet, () -> {
                        exchanges.decrementAndGet();
                        if (Boolean.TRUE.equals(connection.attr(DRAINING).get())) {
                            connection.close();
                        }
                    }, limits, headTimer, null));
        }
    }

    /**
     * The end of a connection's pipeline: idle connections close, failures close quietly, and the HTTP/2 connection
     * errors Netty's codec raised for a caller's flood or protocol error (it sends the GOAWAY itself) are counted.
     */
    private static final class Quiet extends ChannelInboundHandlerAdapter {
        private final ListenerLimits limits;

        Quiet(ListenerLimits limits) {
            this.limits = limits;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
            if (event instanceof IdleStateEvent) {
                limits.hit(Limit.IDLE_TIMEOUT);
                ctx.close();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof Http2Exception http2 && !(cause instanceof Http2Exception.StreamException)) {
                // The codec tells the pipeline before it sends its GOAWAY with this error and closes: closing here
                // first would send NO_ERROR instead.
                limits.hit(http2.error() == Http2Error.ENHANCE_YOUR_CALM ? Limit.HTTP2_FLOOD : Limit.HTTP2_PROTOCOL_ERROR);
                LOG.info("HTTP/2 connection {} ends: {} ({})", ctx.channel(), cause.getMessage(), http2.error());
                return;
            }
            LOG.debug("HTTP connection {} failed: {}", ctx.channel(), cause.toString());
            ctx.close();
        }
    }
}
