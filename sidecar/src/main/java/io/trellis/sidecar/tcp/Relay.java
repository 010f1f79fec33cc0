package io.trellis.sidecar.tcp;

import io.micrometer.core.instrument.Counter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.timeout.IdleStateEvent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries one direction of a joined TCP connection pair: what this channel reads is written to {@code peer}, with
 * backpressure (this channel stops reading while the peer's outbound buffer is above its high-water mark, and
 * resumes when it drains), and counted. Half-close is carried: when this side ends its sending (a FIN: the client
 * that writes its request, shuts down its sending side and reads the answer, as {@code nc -N} and many batch
 * protocols do), the peer's sending side is shut once what was already read has been written, and the other
 * direction keeps flowing; a channel closes once both of its directions ended. A side that closes outright (or
 * resets) closes the other once what was already read has been written. An idle event (no bytes either way for the
 * idle timeout) closes both. Both channels of a pair live on one event loop.
 */
final class Relay extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(Relay.class);

    private final Channel peer;
    private final Counter bytes;

    Relay(Channel peer, Counter bytes) {
        this.peer = peer;
        this.bytes = bytes;
    }

    /**
     * Joins {@code a} and {@code b} both ways and starts reading on both. Runs on their (shared) event loop. The
     * channels allow half-closure ({@code ChannelOption.ALLOW_HALF_CLOSURE}, set as they are made), so that a FIN is an
     * event to pass on rather than a close.
     */
    static void join(Channel a, Counter aToB, Channel b, Counter bToA) {
        a.pipeline().addLast("relay", new Relay(b, aToB));
        b.pipeline().addLast("relay", new Relay(a, bToA));
        // A side that ended its sending before the join (what it sent first is already written to the other, held
        // until now) passes its end on the same way.
        passOnAnEarlyEnd(a, b);
        passOnAnEarlyEnd(b, a);
        resumeReading(a);
        resumeReading(b);
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
            resumeReading(peer);
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
        if (event instanceof ChannelInputShutdownEvent) {
            shutdownOutputAfterFlush(peer);
            closeIfBothWaysEnded(ctx.channel());
        }
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

    /** Shuts {@code to}'s sending side if {@code from} already ended its own. */
    private static void passOnAnEarlyEnd(Channel from, Channel to) {
        if (from instanceof DuplexChannel duplex && duplex.isInputShutdown()) {
            shutdownOutputAfterFlush(to);
        }
    }

    /** Ends {@code channel}'s sending side once what was written to it is out (over TLS, a FIN after the records). */
    private static void shutdownOutputAfterFlush(Channel channel) {
        if (!(channel instanceof DuplexChannel duplex) || !channel.isActive()) {
            closeAfterFlush(channel);
            return;
        }
        channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(written -> {
            if (!written.isSuccess()) {
                channel.close();
                return;
            }
            duplex.shutdownOutput().addListener(shut -> {
                if (!shut.isSuccess()) {
                    channel.close();
                } else {
                    closeIfBothWaysEnded(channel);
                }
            });
        });
    }

    /**
     * Turns reading back on, unless nothing more can be read: epoll no longer watches a connection whose input was
     * shut (asking it to read fails with {@code ENOENT}).
     */
    private static void resumeReading(Channel channel) {
        if (!(channel instanceof DuplexChannel duplex && duplex.isInputShutdown())) {
            channel.config().setAutoRead(true);
        }
    }

    /** Closes {@code channel} once it neither sends nor receives any more. */
    private static void closeIfBothWaysEnded(Channel channel) {
        if (channel instanceof DuplexChannel duplex && duplex.isInputShutdown() && duplex.isOutputShutdown()) {
            channel.close();
        }
    }

    static void closeAfterFlush(Channel channel) {
        if (channel.isActive()) {
            channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        } else {
            channel.close();
        }
    }
}
