package io.trellis.sidecar.transport.netty;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.function.Consumer;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

/**
 * Writes a Pekko message body to a Netty channel with backpressure: it asks its source for more only while the
 * channel is writable (an HTTP/1.1 connection's send buffer, or an HTTP/2 stream's flow-control window), so a slow
 * receiver slows the source and at most {@link #IN_FLIGHT} chunks wait in memory. The body ends with one
 * {@link LastHttpContent} carrying the trailers of a chunked body's last chunk; on an upgraded connection (raw), the
 * data goes as plain bytes and the end is just the last write. A failed source, or a write that fails, reports to
 * {@code onFailure}, once. Its state lives on the channel's event loop.
 */
final class BodyWriter implements Subscriber<HttpEntity.ChunkStreamPart> {
    private static final int IN_FLIGHT = 8;

    private final Channel channel;
    private final Runnable onWritten;
    private final Consumer<Throwable> onFailure;
    private final boolean raw;
    private Subscription subscription;
    private int requested;
    private boolean finished;
    private boolean discarding;

    /**
     * @param onWritten runs once the last chunk was written
     * @param onFailure runs when the source failed or a write failed
     */
    BodyWriter(Channel channel, Runnable onWritten, Consumer<Throwable> onFailure) {
        this(channel, onWritten, onFailure, false);
    }

    /** @param raw whether the channel no longer speaks HTTP (an upgraded connection): bytes are written as they are */
    BodyWriter(Channel channel, Runnable onWritten, Consumer<Throwable> onFailure, boolean raw) {
        this.channel = channel;
        this.onWritten = onWritten;
        this.onFailure = onFailure;
        this.raw = raw;
    }

    @Override
    public void onSubscribe(Subscription s) {
        channel.eventLoop().execute(() -> {
            subscription = s;
            if (finished) {
                s.cancel();
            } else {
                requestMore();
            }
        });
    }

    @Override
    public void onNext(HttpEntity.ChunkStreamPart part) {
        channel.eventLoop().execute(() -> {
            requested--;
            if (discarding) {
                requestMore();
                return;
            }
            if (finished) {
                return;
            }
            if (part.isLastChunk()) {
                writeLast(part.getTrailerHeaders());
                return;
            }
            if (!part.data().isEmpty()) {
                ByteBuf data = Unpooled.wrappedBuffer(part.data().asByteBuffer());
                channel.writeAndFlush(raw ? data : new DefaultHttpContent(data)).addListener(this::written);
            }
            requestMore();
        });
    }

    @Override
    public void onError(Throwable cause) {
        channel.eventLoop().execute(() -> {
            if (!discarding) {
                fail(cause);
            }
        });
    }

    @Override
    public void onComplete() {
        channel.eventLoop().execute(() -> {
            if (!finished && !discarding) {
                writeLast(java.util.List.of());
            }
        });
    }

    /** The channel's writability changed: a paused body may go on. On the event loop. */
    void writabilityChanged() {
        requestMore();
    }

    /**
     * Stops writing but reads the rest of the source and drops it: the peer answered in full before the body was
     * sent (and stopped the stream), and whoever watches the source (a retry's recording of the body) must see it
     * end. On the event loop.
     */
    void discardRest() {
        if (!finished) {
            finished = true;
            discarding = true;
            requestMore();
        }
    }

    /** Stops writing (the exchange ended early); the source is cancelled. On the event loop. */
    void cancel() {
        if (!finished) {
            finished = true;
            if (subscription != null) {
                subscription.cancel();
            }
        }
    }

    private void requestMore() {
        if (subscription == null || requested >= IN_FLIGHT || !discarding && (finished || !channel.isWritable())) {
            return;
        }
        int more = IN_FLIGHT - requested;
        requested += more;
        subscription.request(more);
    }

    private void writeLast(Iterable<HttpHeader> trailers) {
        finished = true;
        Object last = Unpooled.EMPTY_BUFFER;
        if (!raw) {
            LastHttpContent content = new DefaultLastHttpContent();
            for (HttpHeader trailer : trailers) {
                content.trailingHeaders().add(trailer.name(), trailer.value());
            }
            last = content;
        }
        channel.writeAndFlush(last).addListener(future -> {
            if (future.isSuccess()) {
                onWritten.run();
            } else {
                onFailure.accept(future.cause());
            }
        });
    }

    private void written(io.netty.util.concurrent.Future<? super Void> future) {
        if (!future.isSuccess()) {
            fail(future.cause());
        }
    }

    private void fail(Throwable cause) {
        if (finished) {
            return;
        }
        finished = true;
        if (subscription != null) {
            subscription.cancel();
        }
        onFailure.accept(cause);
    }

}
