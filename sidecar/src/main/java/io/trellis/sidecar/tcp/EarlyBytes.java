package io.trellis.sidecar.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * Holds what a connection sends before it is joined to its other side: an app's connection while its tunnel is being
 * set up, and a tunnel's bytes after its request line ({@link LineReader} leaves them here) while the far side
 * connects. Auto-read is off until the join, but the epoll transport still reads a connection whose peer sent its
 * FIN (to see the end): a client that writes its request and half-closes at once (socat, {@code nc -N}) has its
 * bytes read while the tunnel is still being set up, and they must not be lost. At most {@link #MAX_HELD} bytes
 * (more closes the connection: the other side sends nothing before its answer); {@link #release} hands them to the
 * other side and leaves the pipeline. Lives on its channel's event loop.
 */
final class EarlyBytes extends ChannelInboundHandlerAdapter {
    /** The most that is held before the join. */
    static final int MAX_HELD = 64 * 1024;

    private CompositeByteBuf held;

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        held = ctx.alloc().compositeBuffer();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        held.addComponent(true, (ByteBuf) msg);
        if (held.readableBytes() > MAX_HELD) {
            ctx.close();
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        held.release();
    }

    /**
     * Writes what {@code channel} held to {@code peer} (not flushed) and leaves its pipeline; later bytes go to the next
     * handler. On the channel's event loop.
     */
    static void release(Channel channel, Channel peer) {
        EarlyBytes early = channel.pipeline().get(EarlyBytes.class);
        if (early != null) {
            if (early.held.isReadable()) {
                peer.write(early.held.retainedSlice());
            }
            channel.pipeline().remove(early);
        }
    }
}
