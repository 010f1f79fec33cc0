package io.trellis.sidecar.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import java.nio.charset.StandardCharsets;

/**
 * Reads the one {@link TunnelProtocol} line at the start of a tunnel connection, then leaves the pipeline to an
 * {@link EarlyBytes}, which holds whatever arrived after the line (the start of the app's bytes) until the
 * connection is joined to its other side, so nothing read early is lost or reordered. Reading pauses (auto-read
 * off) as soon as the line is complete; whoever joins the two sides turns it back on. Lives on its channel's event
 * loop.
 */
final class LineReader extends ChannelInboundHandlerAdapter {
    /** What to do with the line. */
    interface Listener {
        /** The line arrived (without its {@code \n}); the channel has stopped reading. */
        void line(Channel channel, String line);

        /** No valid line within {@link TunnelProtocol#MAX_LINE} bytes, or the connection ended before one. */
        void malformed(Channel channel, String why);
    }

    private final Listener listener;
    private CompositeByteBuf received;
    private boolean lineRead;

    LineReader(Listener listener) {
        this.listener = listener;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        received = ctx.alloc().compositeBuffer();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (lineRead) {
            // Refused: what follows does not matter.
            ((ByteBuf) msg).release();
            return;
        }
        received.addComponent(true, (ByteBuf) msg);
        int end = received.indexOf(received.readerIndex(), received.writerIndex(), (byte) '\n');
        if (end < 0) {
            if (received.readableBytes() >= TunnelProtocol.MAX_LINE) {
                fail(ctx, "no line end within " + TunnelProtocol.MAX_LINE + " bytes");
            }
            return;
        }
        int length = end - received.readerIndex();
        if (length >= TunnelProtocol.MAX_LINE) {
            fail(ctx, "a line longer than " + TunnelProtocol.MAX_LINE + " bytes");
            return;
        }
        String line = received.toString(received.readerIndex(), length, StandardCharsets.US_ASCII);
        received.readerIndex(end + 1);
        if (!line.chars().allMatch(c -> c >= 0x20 && c < 0x7f)) {
            fail(ctx, "a line with control or non-ASCII bytes");
            return;
        }
        lineRead = true;
        ctx.channel().config().setAutoRead(false);
        ctx.pipeline().addAfter(ctx.name(), "early", new EarlyBytes());
        if (received.isReadable()) {
            ctx.fireChannelRead(received.readRetainedSlice(received.readableBytes()));
        }
        ctx.pipeline().remove(this);
        listener.line(ctx.channel(), line);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
        if (event instanceof ChannelInputShutdownEvent && !lineRead) {
            // A half-closed connection (FIN) is an end too: no line can follow.
            lineRead = true;
            listener.malformed(ctx.channel(), "the connection ended before its first line");
        }
        ctx.fireUserEventTriggered(event);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (!lineRead) {
            listener.malformed(ctx.channel(), "the connection ended before its first line");
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (received != null) {
            received.release();
            received = null;
        }
    }

    private void fail(ChannelHandlerContext ctx, String why) {
        lineRead = true;
        ctx.channel().config().setAutoRead(false);
        listener.malformed(ctx.channel(), why);
    }
}
