package io.trellis.sidecar.transport.netty;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bounds how long an HTTP/1.1 request head may take to arrive once its first byte has (slowloris: a client that
 * sends a header line every few seconds holds a connection for as long as the server lets it). Sits before the
 * HTTP/1.1 codec and sees the raw bytes; the exchange tells it when a head was complete and when the exchange
 * ended, so an idle keep-alive connection is bounded by the idle timeout instead. Lives on the channel's event loop.
 */
final class RequestHeadTimer extends ChannelDuplexHandler {
    private static final Logger LOG = LoggerFactory.getLogger(RequestHeadTimer.class);

    private final Duration timeout;
    private final ListenerLimits limits;
    private ChannelHandlerContext context;
    private boolean waiting = true;
    private ScheduledFuture<?> timer;

    RequestHeadTimer(Duration timeout, ListenerLimits limits) {
        this.timeout = timeout;
        this.limits = limits;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        context = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (waiting && timer == null && msg instanceof ByteBuf bytes && bytes.isReadable()) {
            timer = ctx.executor().schedule(this::expired, timeout.toMillis(), TimeUnit.MILLISECONDS);
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancel();
        ctx.fireChannelInactive();
    }

    /** A request head was read in full: its exchange runs without this bound. */
    void headArrived() {
        waiting = false;
        cancel();
    }

    /** The exchange ended: the next request's head is bounded again from its first byte. */
    void exchangeEnded() {
        waiting = true;
    }

    private void expired() {
        timer = null;
        if (waiting && context.channel().isActive()) {
            LOG.debug("closing {}: no complete request head within {} ms", context.channel(), timeout.toMillis());
            limits.hit(Limit.REQUEST_HEAD_TIMEOUT);
            context.close();
        }
    }

    private void cancel() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }
}
