package io.trellis.sidecar.tcp;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connections one TCP listener has open (a closed channel leaves by itself), for the cap on their number and
 * for draining: opaque TCP has no request boundary, so a drain lets connections run until the deadline and then
 * closes them. Thread-safe.
 */
final class OpenConnections {
    private final ChannelGroup channels = new DefaultChannelGroup("tcp", GlobalEventExecutor.INSTANCE);

    /** Tracks {@code channel} until it closes. */
    void add(Channel channel) {
        channels.add(channel);
    }

    /** How many are open. */
    int size() {
        return channels.size();
    }

    /** Completes when every connection has closed, closing those still open after {@code deadline}. */
    CompletionStage<Void> drain(Duration deadline) {
        CompletableFuture<Void> drained = new CompletableFuture<>();
        long until = System.nanoTime() + deadline.toNanos();
        GlobalEventExecutor.INSTANCE.execute(new Runnable() {
            @Override
            public void run() {
                if (channels.isEmpty()) {
                    drained.complete(null);
                } else if (System.nanoTime() - until >= 0) {
                    channels.close().addListener(f -> drained.complete(null));
                } else {
                    GlobalEventExecutor.INSTANCE.schedule(this, 50, TimeUnit.MILLISECONDS);
                }
            }
        });
        return drained;
    }

    /** The last handler of a connection's pipeline until it is joined: a failure closes it quietly. */
    static final class CloseOnFailure extends ChannelInboundHandlerAdapter {
        private static final Logger LOG = LoggerFactory.getLogger(CloseOnFailure.class);

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.debug("TCP connection {} failed before it was joined: {}", ctx.channel(), cause.toString());
            ctx.close();
        }
    }
}
