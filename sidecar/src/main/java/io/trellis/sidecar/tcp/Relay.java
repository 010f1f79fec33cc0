package io.trellis.sidecar.tcp;

import io.micrometer.core.instrument.Counter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.timeout.IdleStateEvent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries one direction of a joined TCP connection pair: what this channel reads is written to {@code peer}, with
 * backpressure (this channel stops reading while the peer's outbound buffer is above its high-water mark, and
 * resumes when it drains), and counted. When either side ends, the other is closed once what was already read has
 * been written. An idle event (no bytes either way for the idle timeout) closes both. Both channels of a pair live
 * on one event loop.
 */
final class Relay extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(Relay.class);

    private final Channel peer;
    private final Counter bytes;

    Relay(Channel peer, Counter bytes) {
        this.peer = peer;
        this.bytes = bytes;
    }

    /** Joins {@code a} and {@code b} both ways and starts reading on both. Runs on their (shared) event loop. */
    static void join(Channel a, Counter aToB, Channel b, Counter bToA) {
        a.pipeline().addLast("relay", new Relay(b, aToB));
        b.pipeline().addLast("relay", new Relay(a, bToA));
        a.config().setAutoRead(true);
        b.config().setAutoRead(true);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        bytes.increment(((ByteBuf) msg).readableBytes());
        peer.write(msg).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
        if (!peer.isWritable()) {
            ctx.channel().config().setAutoRead(false);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        peer.flush();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) {
            peer.config().setAutoRead(true);
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closeAfterFlush(peer);
        ctx.fireChannelInactive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
        if (event instanceof IdleStateEvent) {
            LOG.debug("closing an idle TCP connection pair {} / {}", ctx.channel(), peer);
            ctx.close();
            closeAfterFlush(peer);
        }
        ctx.fireUserEventTriggered(event);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.debug("TCP connection {} failed: {}", ctx.channel(), cause.toString());
        ctx.close();
    }

    static void closeAfterFlush(Channel channel) {
        if (channel.isActive()) {
            channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        } else {
            channel.close();
        }
    }
}
