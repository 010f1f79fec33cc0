package io.trellis.sidecar.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * Holds what an app's connection sends before it is joined to its tunnel. Auto-read is off until the join, but the
 * epoll transport still reads a connection whose peer sent its FIN (to see the end): a client that writes its
 * request and half-closes at once (socat, {@code nc -N}) has its bytes read while the tunnel is still being set up,
 * and they must not be lost. At most {@link LineReader#MAX_HELD} bytes (more closes the connection);
 * {@link #release} hands them to the tunnel and leaves the pipeline. Lives on its channel's event loop.
 */
final class EarlyBytes extends ChannelInboundHandlerAdapter {
    private CompositeByteBuf held;

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        held = ctx.alloc().compositeBuffer();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        held.addComponent(true, (ByteBuf) msg);
        if (held.readableBytes() > LineReader.MAX_HELD) {
            ctx.close();
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        held.release();
    }

    /** Writes the held bytes to {@code tunnel} (not flushed) and leaves the pipeline. On the channel's event loop. */
    static void release(Channel app, Channel tunnel) {
        EarlyBytes early = app.pipeline().get(EarlyBytes.class);
        if (early != null) {
            if (early.held.isReadable()) {
                tunnel.write(early.held.retainedSlice());
            }
            app.pipeline().remove(early);
        }
    }
}
