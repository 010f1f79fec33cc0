package io.trellis.sidecar.transport.netty;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Error;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rapid Reset (CVE-2023-44487) as a ratio, the way Envoy bounds it: a stream the caller resets within
 * {@link #MIN_LIFETIME_NANOS} of opening it, before its response ended, is premature; once a connection has opened
 * {@link #MIN_STREAMS} streams and at least half of them were premature, it gets GOAWAY {@code ENHANCE_YOUR_CALM} and
 * is closed (streams in flight first finish, within Netty's graceful-shutdown bound). Cancellation that a real client
 * does (a deadline, a user leaving) resets a minority of streams, or resets them later, and never trips it; an
 * attacker's work per stream, for HEADERS the server has started serving, is bounded at twice what it sends.
 * Applied to connections from callers that are not sidecars (apps on the outbound ports, plaintext callers in
 * PERMISSIVE mode; see {@link NettyHttpServer}). One per HTTP/2 connection; its streams share the connection's event
 * loop, which is the only one to call it.
 */
final class PrematureResets {
    private static final Logger LOG = LoggerFactory.getLogger(PrematureResets.class);
    static final int MIN_STREAMS = 500;
    static final long MIN_LIFETIME_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final Channel connection;
    private final ListenerLimits limits;
    private long opened;
    private long premature;
    private boolean cut;

    PrematureResets(Channel connection, ListenerLimits limits) {
        this.connection = connection;
        this.limits = limits;
    }

    /** A stream was opened. */
    void opened() {
        opened++;
    }

    /** The caller reset a stream opened at {@code startNanos} before its response ended. */
    void reset(long startNanos, long nowNanos) {
        if (nowNanos - startNanos >= MIN_LIFETIME_NANOS) {
            return;
        }
        premature++;
        if (!cut && opened >= MIN_STREAMS && premature * 2 >= opened) {
            cut = true;
            LOG.info("closing HTTP/2 connection {}: {} of its {} streams were reset within {} ms of opening", connection,
                    premature, opened, TimeUnit.NANOSECONDS.toMillis(MIN_LIFETIME_NANOS));
            limits.hit(Limit.PREMATURE_RESETS);
            connection.writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.ENHANCE_YOUR_CALM))
                    .addListener(ChannelFutureListener.CLOSE);
        }
    }
}
