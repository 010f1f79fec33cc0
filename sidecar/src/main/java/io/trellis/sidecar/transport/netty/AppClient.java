package io.trellis.sidecar.transport.netty;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.trellis.sidecar.errors.Causes;
import io.trellis.sidecar.transport.EventLoops;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.stream.Materializer;

/**
 * The connections to the local app on 127.0.0.1:port, on Netty: keep-alive HTTP/1.1 connections, one exchange at
 * a time each (a connection goes back to the idle list only once its exchange ended both ways; a request takes one on
 * the event loop it arrived on), and one h2c
 * connection (prior knowledge) whose streams are independent: the app resetting one stream fails that request
 * only, and abandoning a request resets its stream, so the app sees the caller go away. A connection that cannot
 * be made fails with {@code upstream-connect-failure}: the app never saw the request. Thread-safe.
 */
public final class AppClient {
    private static final java.time.Duration CONNECT_TIMEOUT = java.time.Duration.ofSeconds(5);

    private final EventLoops loops;
    private final int port;
    private final String peer;
    private final Materializer materializer;
    private final ConcurrentLinkedDeque<Channel> idle = new ConcurrentLinkedDeque<>();
    private final AtomicReference<CompletableFuture<Channel>> h2c = new AtomicReference<>();
    private volatile boolean closed;

    /** A client of the app at 127.0.0.1:{@code port}. */
    public AppClient(EventLoops loops, int port, Materializer materializer) {
        this.loops = loops;
        this.port = port;
        this.peer = "the app at 127.0.0.1:" + port;
        this.materializer = materializer;
    }

    /**
     * Sends {@code request} over HTTP/1.1 with {@code authority} as its {@code Host}; when {@code abandoned}
     * completes before the exchange ended, the connection is closed.
     */
    public CompletionStage<HttpResponse> http1(HttpRequest request, String authority, CompletionStage<?> abandoned) {
        CompletableFuture<HttpResponse> response = new CompletableFuture<>();
        sendHttp1(request, authority, abandoned, response, true);
        return response;
    }

    private void sendHttp1(HttpRequest request, String authority, CompletionStage<?> abandoned,
            CompletableFuture<HttpResponse> response, boolean mayRetry) {
        http1Channel().whenComplete((channel, error) -> {
            if (error != null) {
                response.completeExceptionally(Causes.upstreamFailure(peer, error, true));
                return;
            }
            channel.eventLoop().execute(() -> {
                if (!channel.isActive()) {
                    // The app closed (or reset) it before anything was sent: the request never reached the app. A
                    // reused connection may have gone stale meanwhile; one more connection is worth a try.
                    if (mayRetry) {
                        sendHttp1(request, authority, abandoned, response, false);
                    } else {
                        response.completeExceptionally(Causes.upstreamFailure(peer,
                                new java.net.ConnectException("the app closed the connection before the request was sent"),
                                true));
                    }
                    return;
                }
                ClientExchange exchange = new ClientExchange(request, authority, peer, false, materializer,
                        () -> release(channel), channel::close);
                channel.pipeline().addBefore("idle", "exchange", exchange);
                abandoned.whenComplete((x, e) -> exchange.abandon());
                relay(exchange.response(), response);
            });
        });
    }

    /**
     * Sends {@code request} on a new stream of the h2c connection, with {@code authority} as its {@code :authority};
     * when {@code abandoned} completes before the exchange ended, the stream is reset.
     */
    public CompletionStage<HttpResponse> h2c(HttpRequest request, String authority, CompletionStage<?> abandoned) {
        CompletableFuture<HttpResponse> response = new CompletableFuture<>();
        h2cConnection().whenComplete((connection, error) -> {
            if (error != null) {
                response.completeExceptionally(Causes.upstreamFailure(peer, error, true));
                return;
            }
            new Http2StreamChannelBootstrap(connection).option(ChannelOption.AUTO_READ, false)
                    .handler(new ChannelInitializer<Http2StreamChannel>() {
                        @Override
                        protected void initChannel(Http2StreamChannel stream) {
                            ClientExchange exchange = new ClientExchange(request, authority, peer, true, materializer,
                                    () -> { }, stream::close);
                            stream.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(false), exchange);
                            abandoned.whenComplete((x, e) -> exchange.abandon());
                            relay(exchange.response(), response);
                        }
                    })
                    .open().addListener((Future<Http2StreamChannel> opened) -> {
                        if (!opened.isSuccess()) {
                            // No stream could be opened (the connection is going away): the app never saw it.
                            response.completeExceptionally(Causes.upstreamFailure(peer, opened.cause(), true));
                        }
                    });
        });
        return response;
    }

    /** Closes every connection; exchanges in flight on them fail. */
    public void close() {
        closed = true;
        for (Channel channel = idle.poll(); channel != null; channel = idle.poll()) {
            channel.close();
        }
        CompletableFuture<Channel> connection = h2c.getAndSet(null);
        if (connection != null) {
            connection.thenAccept(Channel::close);
        }
    }

    /**
     * An idle connection on the caller's loop (most recently used first), else a new one there: the exchange, and the
     * bodies relayed between its caller's channel and this one, then stay on one thread. Idle connections of other
     * loops wait for requests that arrive on theirs.
     */
    private CompletableFuture<Channel> http1Channel() {
        EventLoop here = loops.current();
        for (Channel channel : idle) {
            if (channel.eventLoop() != here || !idle.remove(channel)) {
                continue;
            }
            if (channel.isActive()) {
                return CompletableFuture.completedFuture(channel);
            }
        }
        return connect(here, new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel channel) {
                channel.pipeline().addLast("codec", new HttpClientCodec(Http1Framing.appDecoderConfig(), false, false))
                        .addLast("idle", new IdleWatch());
            }
        });
    }

    /** Puts an HTTP/1.1 connection whose exchange ended back on the idle list (most recently used first). */
    private void release(Channel channel) {
        channel.pipeline().remove("exchange");
        if (closed || !channel.isActive()) {
            channel.close();
            return;
        }
        // Idle, it has a read pending: the app closing it (or saying anything unasked) closes it, and a closed one is
        // passed over. The read stays pending into the next exchange, which therefore costs no epoll_ctl call to
        // pause and resume reading (autoRead stays off: each exchange reads on its caller's demand).
        channel.read();
        idle.addFirst(channel);
    }

    private CompletableFuture<Channel> h2cConnection() {
        CompletableFuture<Channel> current = h2c.get();
        if (current != null && (!current.isDone() || usable(current))) {
            return current;
        }
        CompletableFuture<Channel> opened = new CompletableFuture<>();
        if (!h2c.compareAndSet(current, opened)) {
            return h2cConnection();
        }
        connect(loops.group(), new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel channel) {
                // The connection reads all the time (every stream's frames); each stream reads on its caller's demand.
                channel.config().setAutoRead(true);
                channel.pipeline().addLast(Http2FrameCodecBuilder.forClient().build(),
                        new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()), new GoAwayWatch());
            }
        }).whenComplete((channel, error) -> {
            if (error != null) {
                h2c.compareAndSet(opened, null);
                opened.completeExceptionally(error);
            } else {
                channel.closeFuture().addListener(f -> h2c.compareAndSet(opened, null));
                opened.complete(channel);
            }
        });
        return opened;
    }

    private static boolean usable(CompletableFuture<Channel> connection) {
        if (connection.isCompletedExceptionally()) {
            return false;
        }
        Channel channel = connection.join();
        return channel.isActive() && !channel.hasAttr(GoAwayWatch.GONE);
    }

    private CompletableFuture<Channel> connect(EventLoopGroup loop, ChannelInitializer<Channel> initializer) {
        CompletableFuture<Channel> connected = new CompletableFuture<>();
        loops.client(loop, CONNECT_TIMEOUT)
                .option(ChannelOption.AUTO_READ, false)
                .handler(initializer)
                .connect("127.0.0.1", port)
                .addListener((ChannelFuture f) -> {
                    if (f.isSuccess()) {
                        connected.complete(f.channel());
                    } else {
                        connected.completeExceptionally(f.cause());
                    }
                });
        return connected;
    }

    private static void relay(CompletionStage<HttpResponse> from, CompletableFuture<HttpResponse> to) {
        from.whenComplete((value, error) -> {
            if (error != null) {
                to.completeExceptionally(error);
            } else {
                to.complete(value);
            }
        });
    }

    /** On an idle HTTP/1.1 connection: anything the app sends unasked closes it. */
    private static final class IdleWatch extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
            ctx.close();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** Marks the h2c connection gone once the app sent GOAWAY: new requests open a new connection. */
    private static final class GoAwayWatch extends ChannelInboundHandlerAdapter {
        static final io.netty.util.AttributeKey<Boolean> GONE = io.netty.util.AttributeKey.valueOf("trellis.goaway");

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2GoAwayFrame) {
                ctx.channel().attr(GONE).set(true);
            }
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
