package io.trellis.sidecar.transport.netty;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.util.ByteString;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

/**
 * Writes a Pekko message body to a Netty channel with backpressure: it asks its source for more only while the
 * channel is writable (an HTTP/1.1 connection's send buffer, or an HTTP/2 stream's flow-control window), so a slow
 * receiver slows the source and at most {@link #IN_FLIGHT} chunks wait in memory. The body ends with one
 * {@link LastHttpContent} carrying the trailers of a chunked body's last chunk; on an upgraded connection (raw), the
 * data goes as plain bytes and the end is just the last write. A failed source, or a write that fails, reports to
 * {@code onFailure}, once. The source's signals are handled in batches on the channel's event loop, one flush per
 * batch, and demand goes back in batches too, since every crossing between the source's thread and the event loop
 * costs a wake-up. A body relayed from another channel ({@link BodyPublisher#relayTo}) comes as Netty buffers,
 * which are written as they are (this writer owns them). Its state lives on the channel's event loop.
 */
final class BodyWriter implements Subscriber<HttpEntity.ChunkStreamPart> {
    private static final int IN_FLIGHT = 8;
    private static final Object COMPLETE = new Object();

    private record SourceFailed(Throwable cause) {
    }

    /** A relayed body's trailers (maybe none): its end. */
    private record Trailers(HttpHeaders headers) {
    }

    private final Queue<Object> signals = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean drainPending = new AtomicBoolean();

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
        signal(part);
    }

    /** A relayed body's bytes, now this writer's to write or release. */
    void relayed(ByteBuf data) {
        signal(data);
    }

    /** A relayed body's last element. */
    void relayedTrailers(HttpHeaders trailers) {
        signal(new Trailers(trailers));
    }

    @Override
    public void onError(Throwable cause) {
        signal(new SourceFailed(cause));
    }

    @Override
    public void onComplete() {
        signal(COMPLETE);
    }

    /**
     * Queues a signal of the source and, unless one is pending, one task on the event loop that handles every signal
     * queued by then: the parts that arrive together are written together and flushed once, and waking the event
     * loop (a system call when it sleeps) is paid once per batch rather than once per part.
     */
    private void signal(Object signal) {
        signals.add(signal);
        if (drainPending.compareAndSet(false, true)) {
            channel.eventLoop().execute(this::drainSignals);
        }
    }

    private void drainSignals() {
        drainPending.set(false);
        ChannelFuture lastWrite = null;
        for (Object signal = signals.poll(); signal != null; signal = signals.poll()) {
            if (signal instanceof ByteBuf data) {
                requested--;
                if (finished || discarding) {
                    data.release();
                } else {
                    lastWrite = channel.write(raw ? data : new DefaultHttpContent(data));
                }
            } else if (signal instanceof Trailers last) {
                requested--;
                if (!finished && !discarding) {
                    LastHttpContent content = new DefaultLastHttpContent();
                    content.trailingHeaders().add(last.headers());
                    writeLast(content);
                }
            } else if (signal instanceof HttpEntity.ChunkStreamPart part) {
                requested--;
                if (finished || discarding) {
                    continue;
                }
                if (part.isLastChunk()) {
                    writeLast(last(part.getTrailerHeaders()));
                } else if (!part.data().isEmpty()) {
                    ByteBuf data = wrap(part.data());
                    lastWrite = channel.write(raw ? data : new DefaultHttpContent(data));
                }
            } else if (signal == COMPLETE) {
                if (!finished && !discarding) {
                    writeLast(last(List.of()));
                }
            } else if (!discarding) {
                fail(((SourceFailed) signal).cause());
            }
        }
        if (lastWrite != null) {
            // A write fails only when its channel or stream has closed, and then every later write fails too: one
            // listener on the batch's last write sees it.
            lastWrite.addListener(this::written);
            channel.flush();
        }
        requestMore();
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
        // Demand goes in batches of at least half the allowance: each request is a hand-off to the source's thread.
        if (subscription == null || requested > IN_FLIGHT / 2 || !discarding && (finished || !channel.isWritable())) {
            return;
        }
        int more = IN_FLIGHT - requested;
        requested += more;
        subscription.request(more);
    }

    private static LastHttpContent last(Iterable<HttpHeader> trailers) {
        LastHttpContent content = new DefaultLastHttpContent();
        for (HttpHeader trailer : trailers) {
            content.trailingHeaders().add(trailer.name(), trailer.value());
        }
        return content;
    }

    /** Writes the body's end: {@code last} (its trailers), or on a raw connection just the flush of what was written. */
    private void writeLast(LastHttpContent last) {
        finished = true;
        Object end = last;
        if (raw) {
            last.release();
            end = Unpooled.EMPTY_BUFFER;
        }
        channel.writeAndFlush(end).addListener(future -> {
            if (future.isSuccess()) {
                onWritten.run();
            } else {
                onFailure.accept(future.cause());
            }
        });
    }

    /** The bytes of {@code data} without copying them (a merged chunk is several arrays). */
    private static ByteBuf wrap(ByteString data) {
        List<ByteBuffer> buffers = new ArrayList<>(2);
        data.getByteBuffers().forEach(buffers::add);
        return Unpooled.wrappedBuffer(buffers.toArray(ByteBuffer[]::new));
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
