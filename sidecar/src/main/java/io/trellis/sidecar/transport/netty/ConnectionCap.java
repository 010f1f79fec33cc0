package io.trellis.sidecar.transport.netty;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The most connections one listener holds open at once. A connection beyond it is reset as it is accepted (as
 * Envoy's {@code max_downstream_connections} does), so a flood of idle connections costs one descriptor each for a
 * moment and never starves the callers already connected; each is counted, and a line is logged at most every
 * {@link #LOG_EVERY_NANOS}. Thread-safe: listeners accept on several event loops.
 */
final class ConnectionCap {
    private static final Logger LOG = LoggerFactory.getLogger(ConnectionCap.class);
    private static final long LOG_EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final ListenerLimits limits;
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicLong refusedSinceLog = new AtomicLong();
    private final AtomicLong lastLog = new AtomicLong(System.nanoTime() - LOG_EVERY_NANOS);

    ConnectionCap(ListenerLimits limits) {
        this.limits = limits;
    }

    /** True when {@code connection} may stay; otherwise it is being reset. */
    boolean admit(Channel connection) {
        if (open.incrementAndGet() > limits.maxConnections()) {
            open.decrementAndGet();
            limits.hit(Limit.CONNECTIONS);
            connection.config().setOption(ChannelOption.SO_LINGER, 0);
            connection.close();
            long refused = refusedSinceLog.incrementAndGet();
            long last = lastLog.get();
            long now = System.nanoTime();
            if (now - last >= LOG_EVERY_NANOS && lastLog.compareAndSet(last, now)) {
                refusedSinceLog.addAndGet(-refused);
                LOG.warn("{} listener: {} connections open (its limit); refused {} new ones", limits.direction(),
                        limits.maxConnections(), refused);
            }
            return false;
        }
        connection.closeFuture().addListener(f -> open.decrementAndGet());
        return true;
    }
}
