import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2SecurityUtil;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.trellis.certs.CertificateAuthority;
import io.trellis.certs.CsrFactory;
import io.trellis.certs.KeyMaterial;
import io.trellis.certs.MeshKeyManager;
import io.trellis.certs.MeshTrustManager;
import io.trellis.certs.Pem;
import io.trellis.certs.SpiffeId;
import io.trellis.certs.TrustBundle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The transport experiment's Netty candidate (docs/architecture.md): the smallest sidecar pair that carries the
 * pipeline's requests on Netty 4.2, with the project's own CA, key manager and trust managers over BoringSSL.
 * <ul>
 *   <li>{@code client}: HTTP/1.1 from the app -> one HTTP/2 stream per request on a multiplexed mTLS
 *       connection to the peer (one connection per event loop, like Envoy's per-worker pools);</li>
 *   <li>{@code server}: mTLS HTTP/2 from the peer (client certificate required at the handshake) -> the app over
 *       keep-alive HTTP/1.1 (per-event-loop idle connections) or one h2c connection per event loop.</li>
 * </ul>
 * Bodies stream with backpressure (a full outbound buffer stops reading the inbound side); a caller that goes away
 * resets the peer stream, and a reset stream closes the app connection (HTTP/1.1) or resets the app's stream (h2c).
 * Usage: {@code NettyPair init DIR}, {@code NettyPair client DIR PORT PEER_PORT},
 * {@code NettyPair server DIR PORT APP_PORT [h1|h2c]}. Not part of the sidecar: a measurement.
 */
public final class NettyPair {
    private static final String TRUST_DOMAIN = "cluster.local";
    private static final SpiffeId CLIENT = SpiffeId.forWorkload(TRUST_DOMAIN, "default", "loadgen");
    private static final SpiffeId SERVER = SpiffeId.forWorkload(TRUST_DOMAIN, "default", "backend");

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[1]);
        if (args[0].equals("init")) {
            CertificateAuthority ca = CertificateAuthority.generateRoot(TRUST_DOMAIN, Clock.systemUTC());
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("ca.pem"), ca.keyMaterial().chainPem());
            Files.writeString(dir.resolve("ca.key"), ca.keyMaterial().privateKeyPem());
            for (SpiffeId who : List.of(CLIENT, SERVER)) {
                KeyMaterial leaf = issue(ca, who);
                String name = who.equals(CLIENT) ? "client" : "server";
                Files.writeString(dir.resolve(name + ".pem"), leaf.chainPem());
                Files.writeString(dir.resolve(name + ".key"), leaf.privateKeyPem());
            }
            return;
        }
        int port = Integer.parseInt(args[2]);
        int target = Integer.parseInt(args[3]);
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(Runtime.getRuntime().availableProcessors(),
                EpollIoHandler.newFactory());
        TrustBundle bundle = new TrustBundle(TRUST_DOMAIN, Pem.decodeCertificates(Files.readString(dir.resolve("ca.pem"))));
        if (args[0].equals("client")) {
            MeshKeyManager keys = load(dir, "client");
            SslContext tls = SslContextBuilder.forClient().sslProvider(SslProvider.OPENSSL).keyManager(keys)
                    .trustManager(MeshTrustManager.expectingServer(() -> bundle, Clock.systemUTC(), SERVER))
                    .protocols("TLSv1.3").ciphers(Http2SecurityUtil.CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
                    .applicationProtocolConfig(alpn()).build();
            PeerConnections peers = new PeerConnections(tls, target);
            bind(loops, port, new ChannelInitializer<>() {
                @Override
                protected void initChannel(Channel ch) {
                    ch.pipeline().addLast(new HttpServerCodec(), new HttpServerKeepAliveHandler(), new AppSide(peers));
                }
            });
        } else {
            MeshKeyManager keys = load(dir, "server");
            SslContext tls = SslContextBuilder.forServer(keys).sslProvider(SslProvider.OPENSSL)
                    .trustManager(MeshTrustManager.anyIdentity(() -> bundle, Clock.systemUTC()))
                    .clientAuth(ClientAuth.REQUIRE).protocols("TLSv1.3")
                    .ciphers(Http2SecurityUtil.CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
                    .applicationProtocolConfig(alpn()).build();
            AppConnections app = new AppConnections(target, args.length > 4 && args[4].equals("h2c"));
            bind(loops, port, new ChannelInitializer<>() {
                @Override
                protected void initChannel(Channel ch) {
                    ch.pipeline().addLast(tls.newHandler(ch.alloc()),
                            Http2FrameCodecBuilder.forServer().initialSettings(windows()).build(), new ConnectionWindow(),
                            new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                                @Override
                                protected void initChannel(Http2StreamChannel stream) {
                                    stream.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(true), new PeerSide(app));
                                }
                            }));
                }
            });
        }
        System.out.println("ready " + args[0] + " " + port);
    }

    /** Per-stream flow-control window and frame size: HTTP/2's defaults (64 KiB, 16 KiB) starve bulk transfers. */
    static io.netty.handler.codec.http2.Http2Settings windows() {
        return io.netty.handler.codec.http2.Http2Settings.defaultSettings().initialWindowSize(STREAM_WINDOW).maxFrameSize(1 << 16);
    }

    private static final int STREAM_WINDOW = 1 << 20;
    private static final int CONNECTION_WINDOW = 8 << 20;

    /** Raises the connection's receive window from 64 KiB once the connection is up. */
    static final class ConnectionWindow extends ChannelInboundHandlerAdapter {
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
            if (event instanceof io.netty.handler.ssl.SslHandshakeCompletionEvent done && done.isSuccess()) {
                ctx.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame(CONNECTION_WINDOW - 65535));
            }
            ctx.fireUserEventTriggered(event);
        }
    }

    private static KeyMaterial issue(CertificateAuthority ca, SpiffeId who) throws Exception {
        KeyPair pair = CsrFactory.generateKeyPair();
        return new KeyMaterial(pair.getPrivate(),
                ca.issueWorkload(CsrFactory.createCsr(pair, who), who, Duration.ofHours(24)).chain());
    }

    private static MeshKeyManager load(Path dir, String name) throws Exception {
        return new MeshKeyManager(new KeyMaterial(Pem.decodePrivateKey(Files.readString(dir.resolve(name + ".key"))),
                Pem.decodeCertificates(Files.readString(dir.resolve(name + ".pem")))));
    }

    private static ApplicationProtocolConfig alpn() {
        return new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, ApplicationProtocolNames.HTTP_2);
    }

    private static void bind(EventLoopGroup loops, int port, ChannelInitializer<Channel> init) throws InterruptedException {
        new ServerBootstrap().group(loops).channel(EpollServerSocketChannel.class)
                .childOption(ChannelOption.TCP_NODELAY, true).childHandler(init).bind("127.0.0.1", port).sync();
    }

    /** Headers that describe one hop, plus Netty's own HTTP/2 extension headers. */
    static void stripHop(HttpMessage message) {
        message.headers().remove(HttpHeaderNames.CONNECTION).remove(HttpHeaderNames.KEEP_ALIVE)
                .remove(HttpHeaderNames.PROXY_CONNECTION).remove(HttpHeaderNames.UPGRADE)
                .remove("x-http2-stream-id").remove("x-http2-scheme").remove("x-http2-stream-weight");
        if (message instanceof HttpRequest && !HttpUtil.isContentLengthSet(message)
                && !(message instanceof LastHttpContent)) {
            HttpUtil.setTransferEncodingChunked(message, true);
        }
    }

    /**
     * Moves one exchange's messages from a source channel to a sink channel that may not be open yet: messages
     * wait in order until it is, and a sink that cannot take more stops the source reading.
     */
    static final class Relay {
        private final Channel source;
        private final ArrayDeque<Object> waiting = new ArrayDeque<>();
        private Channel sink;
        private boolean failed;

        Relay(Channel source) {
            this.source = source;
        }

        void forward(Object message) {
            if (failed) {
                ReferenceCountUtil.release(message);
            } else if (sink == null) {
                waiting.add(message);
            } else {
                sink.write(message);
                if (!sink.isWritable()) {
                    source.config().setAutoRead(false);
                }
            }
        }

        void flush() {
            if (sink != null) {
                sink.flush();
            }
        }

        void opened(Channel opened) {
            sink = opened;
            while (!waiting.isEmpty()) {
                forward(waiting.poll());
            }
            sink.flush();
        }

        void failed() {
            failed = true;
            waiting.forEach(ReferenceCountUtil::release);
            waiting.clear();
        }

        Channel sink() {
            return sink;
        }
    }

    /** One HTTP/2 connection to the peer per event loop, opened on first use and replaced when it closes. */
    static final class PeerConnections {
        private final SslContext tls;
        private final int port;
        private final Map<EventLoop, Future<Channel>> byLoop = new HashMap<>();

        PeerConnections(SslContext tls, int port) {
            this.tls = tls;
            this.port = port;
        }

        /** Called on {@code loop} only, so the map needs no lock. */
        Future<Channel> get(EventLoop loop) {
            Future<Channel> existing = byLoop.get(loop);
            if (usable(existing)) {
                return existing;
            }
            Promise<Channel> ready = loop.newPromise();
            byLoop.put(loop, ready);
            // Usable once TLS is up, not merely once TCP is.
            connect(loop, port, ch -> {
                var ssl = tls.newHandler(ch.alloc(), "127.0.0.1", port);
                ch.pipeline().addLast(ssl, Http2FrameCodecBuilder.forClient().initialSettings(windows()).build(),
                        new ConnectionWindow(), new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                ssl.handshakeFuture().addListener(f -> {
                    if (f.isSuccess()) {
                        ready.trySuccess(ch);
                    } else {
                        ready.tryFailure(f.cause());
                    }
                });
            }).addListener(f -> {
                if (!f.isSuccess()) {
                    ready.tryFailure(f.cause());
                }
            });
            return ready;
        }
    }

    /** True while {@code connection} is being opened, or is open. */
    static boolean usable(Future<Channel> connection) {
        return connection != null && (!connection.isDone() || (connection.isSuccess() && connection.getNow().isActive()));
    }

    /** A TCP connection to 127.0.0.1:{@code port} on {@code loop}, its pipeline set up by {@code init}. */
    static Future<Channel> connect(EventLoop loop, int port, java.util.function.Consumer<Channel> init) {
        Promise<Channel> connected = loop.newPromise();
        new Bootstrap().group(loop).channel(EpollSocketChannel.class).option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        init.accept(ch);
                    }
                })
                .connect("127.0.0.1", port).addListener((ChannelFuture f) -> {
                    if (f.isSuccess()) {
                        connected.trySuccess(f.channel());
                    } else {
                        connected.tryFailure(f.cause());
                    }
                });
        return connected;
    }

    /** A new HTTP/2 stream on {@code connection} whose answer is written to {@code answerTo} ({@link Answer}). */
    static Future<Http2StreamChannel> openStream(Channel connection, Channel answerTo, Runnable onAnswered) {
        return new Http2StreamChannelBootstrap(connection).handler(new ChannelInitializer<Http2StreamChannel>() {
            @Override
            protected void initChannel(Http2StreamChannel stream) {
                stream.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(false), new Answer(answerTo, onAnswered));
            }
        }).open();
    }

    /**
     * The side of an exchange that reads the request and forwards it through {@link #relay}: flushes what a read
     * burst forwarded, and reads the response's way back only while this channel can take it.
     */
    abstract static class Forwarding extends ChannelInboundHandlerAdapter {
        protected Relay relay;

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (relay != null) {
                relay.flush();
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            Channel sink = relay == null ? null : relay.sink();
            if (sink != null) {
                sink.config().setAutoRead(ctx.channel().isWritable());
            }
        }
    }

    /** The app's HTTP/1.1 connection to the client sidecar: each request becomes a stream to the peer. */
    static final class AppSide extends Forwarding {
        private final PeerConnections peers;
        private boolean answered;

        AppSide(PeerConnections peers) {
            this.peers = peers;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof HttpRequest request) {
                stripHop(request);
                relay = new Relay(ctx.channel());
                answered = false;
                Relay current = relay;
                peers.get(ctx.channel().eventLoop()).addListener((Future<Channel> peer) -> {
                    if (!peer.isSuccess()) {
                        current.failed();
                        respond(ctx, HttpResponseStatus.BAD_GATEWAY);
                        return;
                    }
                    openStream(peer.getNow(), ctx.channel(), () -> answered = true).addListener((Future<Http2StreamChannel> stream) -> {
                        if (stream.isSuccess()) {
                            current.opened(stream.getNow());
                        } else {
                            current.failed();
                            respond(ctx, HttpResponseStatus.BAD_GATEWAY);
                        }
                    });
                });
            }
            if (msg instanceof HttpContent) {
                if (relay == null) {
                    ReferenceCountUtil.release(msg);
                } else {
                    relay.forward(msg);
                }
            } else if (msg instanceof HttpRequest) {
                relay.forward(msg);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            // The app went away: reset the peer stream (RST_STREAM CANCEL) so the server side and its app stop too.
            Channel stream = relay == null ? null : relay.sink();
            if (stream != null && !answered) {
                stream.close();
            }
        }

        private static void respond(ChannelHandlerContext ctx, HttpResponseStatus status) {
            var response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.EMPTY_BUFFER);
            HttpUtil.setContentLength(response, 0);
            ctx.writeAndFlush(response);
        }
    }

    /** Writes a response arriving on {@code from}'s stream back to {@code to}; a response cut short closes {@code to}. */
    static final class Answer extends ChannelInboundHandlerAdapter {
        private final Channel to;
        private final Runnable onEnd;
        private boolean ended;

        Answer(Channel to, Runnable onEnd) {
            this.to = to;
            this.onEnd = onEnd;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof HttpResponse response) {
                stripHop(response);
            }
            if (msg instanceof LastHttpContent) {
                ended = true;
                to.writeAndFlush(msg);
                onEnd.run();
                return;
            }
            to.write(msg);
            if (!to.isWritable()) {
                ctx.channel().config().setAutoRead(false);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            to.flush();
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            // The request direction: this channel took the request's bytes; read more of them once it drained.
            to.config().setAutoRead(ctx.channel().isWritable());
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!ended) {
                to.close();
            }
        }
    }

    /** The app's connections, per event loop: idle keep-alive HTTP/1.1 connections, or one h2c connection. */
    static final class AppConnections {
        private final int port;
        private final boolean h2c;
        private final Map<EventLoop, ArrayDeque<Channel>> idle = new HashMap<>();
        private final Map<EventLoop, Future<Channel>> multiplexed = new HashMap<>();

        AppConnections(int port, boolean h2c) {
            this.port = port;
            this.h2c = h2c;
        }

        boolean h2c() {
            return h2c;
        }

        /** An HTTP/1.1 connection (or the h2c connection) on {@code loop}; called on that loop only. */
        Future<Channel> acquire(EventLoop loop) {
            if (h2c) {
                Future<Channel> existing = multiplexed.get(loop);
                if (usable(existing)) {
                    return existing;
                }
                Future<Channel> opened = connect(loop, port, ch -> ch.pipeline().addLast(Http2FrameCodecBuilder.forClient().build(),
                        new Http2MultiplexHandler(new ChannelInboundHandlerAdapter())));
                multiplexed.put(loop, opened);
                return opened;
            }
            ArrayDeque<Channel> free = idle.computeIfAbsent(loop, l -> new ArrayDeque<>());
            Channel channel;
            while ((channel = free.poll()) != null) {
                if (channel.isActive()) {
                    return loop.newSucceededFuture(channel);
                }
            }
            return connect(loop, port, ch -> ch.pipeline().addLast(new HttpClientCodec()));
        }

        void release(Channel channel) {
            if (channel.isActive()) {
                idle.computeIfAbsent(channel.eventLoop(), l -> new ArrayDeque<>()).push(channel);
            }
        }

    }

    /** One stream from the peer sidecar: forwarded to the app, the answer written back on the stream. */
    static final class PeerSide extends Forwarding {
        private final AppConnections app;
        private Channel appChannel;
        private boolean answered;
        private boolean requestSent;

        PeerSide(AppConnections app) {
            this.app = app;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof HttpRequest request) {
                stripHop(request);
                relay = new Relay(ctx.channel());
                app.acquire(ctx.channel().eventLoop()).addListener((Future<Channel> connected) -> {
                    if (!connected.isSuccess()) {
                        relay.failed();
                        var response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SERVICE_UNAVAILABLE);
                        HttpUtil.setContentLength(response, 0);
                        ctx.writeAndFlush(response);
                        return;
                    }
                    if (app.h2c()) {
                        openStream(connected.getNow(), ctx.channel(), () -> answered = true).addListener((Future<Http2StreamChannel> stream) -> {
                            if (stream.isSuccess()) {
                                appChannel = stream.getNow();
                                relay.opened(appChannel);
                            } else {
                                relay.failed();
                                ctx.close();
                            }
                        });
                        return;
                    }
                    appChannel = connected.getNow();
                    appChannel.pipeline().addLast("answer", new Answer(ctx.channel(), () -> {
                        answered = true;
                        releaseWhenDone();
                    }));
                    relay.opened(appChannel);
                });
            }
            if (relay == null) {
                ReferenceCountUtil.release(msg);
            } else if (msg instanceof HttpObject) {
                if (msg instanceof LastHttpContent) {
                    requestSent = true;
                }
                relay.forward(msg);
                releaseWhenDone();
            } else {
                ReferenceCountUtil.release(msg);
            }
        }

        /** An HTTP/1.1 app connection carries the next request only once this exchange ended both ways. */
        private void releaseWhenDone() {
            if (answered && requestSent && appChannel != null && !app.h2c() && appChannel.pipeline().get("answer") != null) {
                appChannel.flush();
                appChannel.pipeline().remove("answer");
                app.release(appChannel);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            // The stream was reset or its connection died before the answer: the app must see the caller go away.
            if (appChannel != null && !answered) {
                appChannel.close();
            }
        }
    }
}
