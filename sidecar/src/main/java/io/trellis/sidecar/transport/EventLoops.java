package io.trellis.sidecar.transport;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * The sidecar's Netty event loops (epoll where the platform has it, NIO otherwise) and the channel types that go
 * with them. One instance per sidecar, shared by every Netty listener and client, stopped last.
 */
public final class EventLoops {
    private final EventLoopGroup group;
    private final Class<? extends ServerChannel> serverChannel;
    private final Class<? extends Channel> channel;

    private EventLoops(EventLoopGroup group, Class<? extends ServerChannel> serverChannel, Class<? extends Channel> channel) {
        this.group = group;
        this.serverChannel = serverChannel;
        this.channel = channel;
    }

    /** {@code threads} daemon event-loop threads named {@code trellis-io-N}. */
    public static EventLoops start(int threads) {
        boolean epoll = Epoll.isAvailable();
        IoHandlerFactory handlers = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory("trellis-io", true), handlers);
        return epoll ? new EventLoops(group, EpollServerSocketChannel.class, EpollSocketChannel.class)
                : new EventLoops(group, NioServerSocketChannel.class, NioSocketChannel.class);
    }

    /** The loops. */
    public EventLoopGroup group() {
        return group;
    }

    /**
     * The loop the caller runs on, or the next one when it runs on none of them. Work that goes on from one
     * channel to another (a request to its upstream, a body relayed between them) stays on one thread when both
     * channels are on the caller's loop: no wake-up of another thread per hand-off.
     */
    public EventLoop current() {
        for (EventExecutor loop : group) {
            if (loop.inEventLoop()) {
                return (EventLoop) loop;
            }
        }
        return group.next();
    }

    /** The listening-socket type for these loops. */
    public Class<? extends ServerChannel> serverChannel() {
        return serverChannel;
    }

    /** The connected-socket type for these loops. */
    public Class<? extends Channel> channel() {
        return channel;
    }

    /** A listener's bootstrap on these loops: a backlog of 1,024, no Nagle on accepted connections. */
    public ServerBootstrap server() {
        return new ServerBootstrap().group(group).channel(serverChannel)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.TCP_NODELAY, true);
    }

    /**
     * A client's bootstrap on {@code loop} (these loops, or one of them to keep a connection beside another): no
     * Nagle, connect within {@code connectTimeout}.
     */
    public Bootstrap client(EventLoopGroup loop, Duration connectTimeout) {
        return new Bootstrap().group(loop).channel(channel)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis()));
    }

    /** A Netty future as a completion stage that completes (normally) when it does, whatever its outcome. */
    public static CompletableFuture<Void> whenDone(Future<?> future) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        future.addListener(f -> done.complete(null));
        return done;
    }

    /** Stops the loops once no task arrived for a moment; completes when they have stopped. */
    public CompletionStage<Void> stop() {
        return whenDone(group.shutdownGracefully(0, 2, TimeUnit.SECONDS));
    }
}
