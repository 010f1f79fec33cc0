package io.trellis.sidecar.transport;

import io.netty.channel.Channel;
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

    /** The listening-socket type for these loops. */
    public Class<? extends ServerChannel> serverChannel() {
        return serverChannel;
    }

    /** The connected-socket type for these loops. */
    public Class<? extends Channel> channel() {
        return channel;
    }

    /** Stops the loops once no task arrived for a moment; completes when they have stopped. */
    public CompletionStage<Void> stop() {
        CompletableFuture<Void> stopped = new CompletableFuture<>();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).addListener(f -> stopped.complete(null));
        return stopped;
    }
}
