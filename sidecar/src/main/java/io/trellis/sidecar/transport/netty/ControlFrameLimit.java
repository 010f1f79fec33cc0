package io.trellis.sidecar.transport.netty;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2PingFrame;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bounds the PING and SETTINGS frames an HTTP/2 connection may send (CVE-2019-9512, -9515: each one makes the server
 * answer, so a flood costs the server a core and its memory while the sender reads nothing). Beyond
 * {@link #MAX_FRAMES} in {@link #WINDOW_SECONDS} the connection gets GOAWAY {@code ENHANCE_YOUR_CALM}, is read no
 * further, and is closed once the GOAWAY is written, or after {@link #GOAWAY_GRACE_MILLIS} when a sender that reads
 * nothing leaves no room for it.
 * A legitimate peer sends a keep-alive PING every few seconds and SETTINGS a handful of times. Sits after the
 * stream multiplexer, which passes connection-level frames on; lives on the connection's event loop.
 */
final class ControlFrameLimit extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(ControlFrameLimit.class);
    static final int MAX_FRAMES = 1_000;
    static final int WINDOW_SECONDS = 10;
    static final long GOAWAY_GRACE_MILLIS = 1_000;

    private final ListenerLimits limits;
    private long windowStart = System.nanoTime();
    private int frames;
    private boolean cut;

    ControlFrameLimit(ListenerLimits limits) {
        this.limits = limits;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Http2PingFrame ping && !ping.ack() || msg instanceof Http2SettingsFrame) {
            long now = System.nanoTime();
            if (now - windowStart > TimeUnit.SECONDS.toNanos(WINDOW_SECONDS)) {
                windowStart = now;
                frames = 0;
            }
            if (++frames > MAX_FRAMES) {
                ReferenceCountUtil.release(msg);
                if (!cut) {
                    cut = true;
                    LOG.info("closing HTTP/2 connection {}: more than {} PING and SETTINGS frames in {} s", ctx.channel(),
                            MAX_FRAMES, WINDOW_SECONDS);
                    limits.hit(Limit.CONTROL_FRAMES);
                    ctx.channel().config().setAutoRead(false);
                    ctx.writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.ENHANCE_YOUR_CALM))
                            .addListener(ChannelFutureListener.CLOSE);
                    var grace = ctx.executor().schedule(() -> ctx.close(), GOAWAY_GRACE_MILLIS, TimeUnit.MILLISECONDS);
                    ctx.channel().closeFuture().addListener(closed -> grace.cancel(false));
                }
                return;
            }
        }
        ctx.fireChannelRead(msg);
    }
}
