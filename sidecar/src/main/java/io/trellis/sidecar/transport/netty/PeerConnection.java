package io.trellis.sidecar.transport.netty;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.trellis.sidecar.errors.Causes;
import io.trellis.sidecar.transport.EventLoops;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.Host;
import org.apache.pekko.stream.Materializer;

/**
 * One multiplexed HTTP/2-over-mTLS connection to a peer sidecar, on Netty: the TLS context insists on the
 * endpoint's SPIFFE ID, ALPN must settle on h2, and each request is its own stream, so a stream the peer resets
 * fails that request only, and a request its caller abandons resets its stream. Streams above the peer's
 * concurrency limit wait for a free one (up to {@code maxPending}). A connection that never came up fails its
 * requests with {@code upstream-connect-failure} (they never reached the peer); streams the peer refused (above a
 * GOAWAY's last stream id, or {@code REFUSED_STREAM}) say {@code REFUSED_STREAM}, so retries know they were never
 * processed. Closed when idle for the cluster's idle timeout. Thread-safe.
 */
public final class PeerConnection {
    private final String peer;
    private final Materializer materializer;
    private final int maxPending;
    private final CompletableFuture<Channel> established = new CompletableFuture<>();
    private final AtomicInteger pending = new AtomicInteger();
    private final AtomicInteger streams = new AtomicInteger();
    private volatile boolean gone;
    private volatile boolean closeWhenIdle;

    private PeerConnection(String peer, Materializer materializer, int maxPending) {
        this.peer = peer;
        this.materializer = materializer;
        this.maxPending = maxPending;
    }

    /**
     * Starts connecting to {@code host:port} on {@code loop} (one of {@code loops}); requests sent meanwhile wait for
     * the connection.
     */
    public static PeerConnection open(EventLoops loops, io.netty.channel.EventLoop loop, SslContext tls, String host, int port,
            Duration connectTimeout, Duration idleTimeout, int maxPending, Materializer materializer) {
        PeerConnection connection = new PeerConnection(host + ":" + port, materializer, maxPending);
        loops.client(loop, connectTimeout)
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel channel) {
                        SslHandler handshake = tls.newHandler(channel.alloc(), host, port);
                        handshake.setHandshakeTimeoutMillis(connectTimeout.toMillis());
                        channel.pipeline().addLast("tls", handshake).addLast("flushes", new Http2Flushes())
                                .addLast("idle", new IdleStateHandler(0, 0, idleTimeout.toMillis(), TimeUnit.MILLISECONDS))
                                .addLast("h2", Http2FrameCodecBuilder.forClient().initialSettings(PeerFlowWindow.settings())
                                        .encoderEnforceMaxConcurrentStreams(true).build())
                                .addLast("streams", new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()))
                                .addLast("watch", connection.new Watch());
                        handshake.handshakeFuture().addListener(f -> {
                            if (!f.isSuccess()) {
                                connection.established.completeExceptionally(f.cause());
                            } else if (!ApplicationProtocolNames.HTTP_2.equals(handshake.applicationProtocol())) {
                                connection.established.completeExceptionally(new javax.net.ssl.SSLHandshakeException(
                                        "the peer did not agree to HTTP/2 (ALPN " + handshake.applicationProtocol() + ")"));
                                channel.close();
                            } else {
                                connection.established.complete(channel);
                            }
                        });
                    }
                })
                .connect(host, port)
                .addListener((ChannelFuture f) -> {
                    if (!f.isSuccess()) {
                        connection.established.completeExceptionally(f.cause());
                    } else {
                        f.channel().closeFuture().addListener(closed -> connection.gone = true);
                    }
                });
        connection.established.whenComplete((channel, error) -> {
            if (error != null) {
                connection.gone = true;
            }
        });
        return connection;
    }

    /** False once the connection failed, closed, or the peer sent GOAWAY: a new one is needed for new requests. */
    public boolean isOpen() {
        return !gone;
    }

    /**
     * Sends {@code request} on a new stream; when {@code abandoned} completes before the exchange ended, the stream
     * is reset.
     */
    public CompletionStage<HttpResponse> send(HttpRequest request, CompletionStage<?> abandoned) {
        CompletableFuture<HttpResponse> response = new CompletableFuture<>();
        if (pending.incrementAndGet() > maxPending && !established.isDone()) {
            pending.decrementAndGet();
            response.completeExceptionally(new io.trellis.sidecar.errors.ProxyException(
                    io.trellis.sidecar.errors.ProxyError.OVERLOADED, maxPending + " requests already wait for the connection to "
                            + peer + " (connectionLimits.maxPendingRequests)"));
            return response;
        }
        established.whenComplete((channel, error) -> {
            pending.decrementAndGet();
            if (error != null) {
                response.completeExceptionally(Causes.upstreamFailure(peer, error, true));
                return;
            }
            String authority = request.getHeader(Host.class).map(Host::value).orElse(peer);
            new Http2StreamChannelBootstrap(channel).option(ChannelOption.AUTO_READ, false)
                    .handler(new ChannelInitializer<Http2StreamChannel>() {
                        @Override
                        protected void initChannel(Http2StreamChannel stream) {
                            streams.incrementAndGet();
                            stream.closeFuture().addListener(f -> {
                                if (streams.decrementAndGet() == 0 && closeWhenIdle) {
                                    channel.close();
                                }
                            });
                            ClientExchange exchange = new ClientExchange(request, authority, peer, true, materializer,
                                    () -> { }, stream::close);
                            stream.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(false), exchange);
                            abandoned.whenComplete((x, e) -> exchange.abandon());
                            exchange.response().whenComplete((value, failure) -> {
                                if (failure != null) {
                                    response.completeExceptionally(failure);
                                } else {
                                    response.complete(value);
                                }
                            });
                        }
                    })
                    .open().addListener((Future<Http2StreamChannel> opened) -> {
                        if (!opened.isSuccess()) {
                            response.completeExceptionally(Causes.upstreamFailure(peer, new java.io.IOException(
                                    "no stream could be opened (REFUSED_STREAM in effect): " + opened.cause()), false));
                        }
                    });
        });
        return response;
    }

    /** Closes the connection: streams in flight fail. */
    public void close() {
        gone = true;
        established.thenAccept(Channel::close);
    }

    /** Takes no new requests, and closes once the streams in flight have ended. */
    public void closeWhenIdle() {
        gone = true;
        closeWhenIdle = true;
        established.thenAccept(channel -> channel.eventLoop().execute(() -> {
            if (streams.get() == 0) {
                channel.close();
            }
        }));
    }

    /** Notices GOAWAY and idleness on the connection. */
    private final class Watch extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2GoAwayFrame) {
                gone = true;
            }
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
            if (event instanceof IdleStateEvent) {
                gone = true;
                ctx.close();
            }
            ctx.fireUserEventTriggered(event);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            gone = true;
            ctx.close();
        }
    }
}
