package io.trellis.sidecar.transport.netty;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.concurrent.ScheduledFuture;
import io.trellis.sidecar.transport.BodyWatcher;
import io.trellis.sidecar.transport.WatchedBody;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.util.ByteString;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

/**
 * A message body arriving on a Netty channel, handed on with backpressure to one reader: a Pekko stream (as a
 * {@link Publisher}), or, when nothing between the two channels changed the body, straight to the {@link BodyWriter}
 * of the channel it goes out on ({@link #relayTo}), as Netty buffers, with no stream stage and no copy between them.
 * The channel reads (auto-read off) only while fewer than {@link #MAX_QUEUED} chunks and {@link #MAX_QUEUED_BYTES}
 * wait for the reader, so a slow reader slows the sender (TCP window, or the HTTP/2 stream's flow-control window) and
 * at most that much buffers (a socket read can bring 64 KiB, so the byte bound is the one that holds for HTTP/1.1).
 * Reading ahead of demand by that bounded amount also takes in an HTTP/2 stream's last frames before the stream
 * closes. Elements are data chunks, then the trailers, if any; what one turn of the event loop read goes on as one
 * element of up to {@link #MAX_MERGED_BYTES} (each element costs a hand-off between threads).
 *
 * <p>The stages' {@link BodyWatcher}s run here, on the event loop, whichever the reader: the idle bounds on the
 * loop's timer. A reader that cancels before the end (or an idle bound that passes) tells {@code onCancel}, and the
 * rest of the body is read and dropped (so an HTTP/2 stream's flow-control window, and its connection's, keep moving
 * while the exchange's answer is still to come). Bytes wait as pooled buffers only once a relay reads them, so a body
 * nobody reads holds no pooled memory; before that they wait as heap copies. Its state lives on the channel's event
 * loop.
 */
final class BodyPublisher implements Publisher<HttpEntity.ChunkStreamPart>, WatchedBody {
    private static final int MAX_QUEUED = 16;
    /** The bytes read ahead of the reader at most (a bound per stream, whatever the chunk sizes). */
    private static final int MAX_QUEUED_BYTES = 256 * 1024;
    /** The bytes handed on in one element at most, when several chunks wait (a socket read brings many at once). */
    private static final int MAX_MERGED_BYTES = 64 * 1024;

    /** Where the elements go: a Pekko stream, or a writer on another channel. */
    private interface Reader {
        void data(ByteBuf data);

        void trailers(HttpHeaders trailers);

        void complete();

        void error(Throwable cause);
    }

    private final Channel channel;
    private final Runnable onCancel;
    private final ArrayDeque<ByteBuf> queue = new ArrayDeque<>();
    private HttpHeaders trailers;
    private Reader reader;
    private boolean relayed;
    private long demand;
    private long queuedBytes;
    private boolean ended;
    private boolean done;
    private Throwable failure;
    private boolean drainScheduled;

    /** Guards {@link #watchers} until reading starts, and the reading flag; then the list is the event loop's. */
    private final Object watching = new Object();
    private final List<BodyWatcher> watchers = new ArrayList<>(2);
    private boolean reading;
    private volatile HttpEntity entity;
    private boolean seesData;
    private long lastPassed;
    private ScheduledFuture<?> idleCheck;

    /**
     * @param onCancel runs when the reader cancels before the body ended (a client exchange ends early, so the
     *     peer sees its reader go away; a server exchange still answers its caller)
     */
    BodyPublisher(Channel channel, Runnable onCancel) {
        this.channel = channel;
        this.onCancel = onCancel;
    }

    /** Marks {@code body} as the entity made for this body (see {@link WatchedBody#is}); once. */
    <E extends HttpEntity> E carriedAs(E body) {
        entity = body;
        return body;
    }

    @Override
    public boolean is(HttpEntity candidate) {
        return candidate != null && entity == candidate;
    }

    @Override
    public boolean watch(BodyWatcher watcher) {
        synchronized (watching) {
            if (reading) {
                return false;
            }
            watchers.add(watcher);
            return true;
        }
    }

    /**
     * True when this is the first reader: no watcher can be added from here on, and the watchers hear that the body
     * started at once, on the reader's thread (a retry asks whether the body was read as soon as an attempt fails).
     */
    private boolean startReading() {
        synchronized (watching) {
            if (reading) {
                return false;
            }
            reading = true;
        }
        for (BodyWatcher watcher : watchers) {
            watcher.started();
        }
        return true;
    }

    @Override
    public void subscribe(Subscriber<? super HttpEntity.ChunkStreamPart> candidate) {
        if (!startReading()) {
            candidate.onSubscribe(new Subscription() {
                @Override
                public void request(long n) {
                }

                @Override
                public void cancel() {
                }
            });
            candidate.onError(new IllegalStateException("a message body can be read once"));
            return;
        }
        channel.eventLoop().execute(() -> start(new Reader() {
            @Override
            public void data(ByteBuf data) {
                ByteString bytes = heapBytes(data);
                data.release();
                candidate.onNext(HttpEntity.ChunkStreamPart.create(bytes));
            }

            @Override
            public void trailers(HttpHeaders trailers) {
                candidate.onNext(HttpEntity.ChunkStreamPart.createLast("", converted(trailers)));
            }

            @Override
            public void complete() {
                candidate.onComplete();
            }

            @Override
            public void error(Throwable cause) {
                candidate.onError(cause);
            }
        }, subscription(), candidate::onSubscribe));
    }

    /**
     * Hands the body straight to {@code writer}, with no stream between the two channels: its buffers go to the
     * writer's channel as they are. False when another reader came first.
     *
     * @param withTrailers whether the trailers go on (the entity is chunked); an entity of known length drops them, as
     *     its stream form does
     */
    boolean relayTo(BodyWriter writer, boolean withTrailers) {
        if (!startReading()) {
            return false;
        }
        channel.eventLoop().execute(() -> {
            relayed = true;
            start(new Reader() {
                @Override
                public void data(ByteBuf data) {
                    writer.relayed(data);
                }

                @Override
                public void trailers(HttpHeaders trailers) {
                    if (withTrailers) {
                        writer.relayedTrailers(trailers);
                    } else {
                        writer.relayedTrailers(io.netty.handler.codec.http.EmptyHttpHeaders.INSTANCE);
                    }
                }

                @Override
                public void complete() {
                    writer.onComplete();
                }

                @Override
                public void error(Throwable cause) {
                    writer.onError(cause);
                }
            }, subscription(), writer::onSubscribe);
        });
        return true;
    }

    private Subscription subscription() {
        return new Subscription() {
            @Override
            public void request(long n) {
                channel.eventLoop().execute(() -> requested(n));
            }

            @Override
            public void cancel() {
                channel.eventLoop().execute(BodyPublisher.this::cancelled);
            }
        };
    }

    private void start(Reader first, Subscription subscription, java.util.function.Consumer<Subscription> onSubscribe) {
        reader = first;
        for (BodyWatcher watcher : watchers) {
            seesData |= watcher.seesData();
        }
        onSubscribe.accept(subscription);
        lastPassed = System.nanoTime();
        scheduleIdleCheck();
        drain();
    }

    /** Bytes of the body arrived (the buffer stays the caller's to release). On the event loop. */
    void data(ByteBuf content) {
        if (done || !content.isReadable()) {
            return;
        }
        // Pooled buffers wait only for a relay, which hands them on at once; anything else waits as a heap copy.
        ByteBuf kept = relayed ? content.retainedSlice() : Unpooled.wrappedBuffer(ByteBufUtil.getBytes(content));
        queuedBytes += kept.readableBytes();
        queue.add(kept);
        scheduleDrain();
    }

    /**
     * Hands on what arrived once the event loop has finished its current reads: one socket read brings many frames or
     * chunks, and each element handed on costs a hand-off between threads, so they go on together.
     */
    private void scheduleDrain() {
        if (!drainScheduled) {
            drainScheduled = true;
            channel.eventLoop().execute(() -> {
                drainScheduled = false;
                drain();
            });
        }
    }

    /** The body ended, with {@code trailers} (may be empty). On the event loop. */
    void end(HttpHeaders trailers) {
        if (ended) {
            return;
        }
        ended = true;
        if (done) {
            return;
        }
        if (!trailers.isEmpty()) {
            this.trailers = trailers;
        }
        drain();
    }

    /** The body broke before its end. On the event loop. */
    void fail(Throwable cause) {
        if (ended) {
            return;
        }
        ended = true;
        if (done) {
            return;
        }
        failure = cause;
        clear();
        drain();
    }

    private void requested(long n) {
        if (done) {
            return;
        }
        if (n <= 0) {
            finish(new IllegalArgumentException("demand must be positive (reactive streams rule 3.9)"));
            return;
        }
        demand = demand + n < 0 ? Long.MAX_VALUE : demand + n;
        drain();
    }

    private void cancelled() {
        if (done) {
            return;
        }
        done = true;
        clear();
        cancelIdleCheck();
        if (!ended) {
            onCancel.run();
            if (wantsMore()) {
                channel.read();
            }
        }
        endedReading(false);
    }

    /** Ends the reading early with {@code cause}: the reader is told, and the rest of the body is dropped. */
    private void finish(Throwable cause) {
        done = true;
        clear();
        cancelIdleCheck();
        reader.error(cause);
        endedReading(false);
        if (!ended) {
            onCancel.run();
        }
        if (wantsMore()) {
            channel.read();
        }
    }

    private void drain() {
        if (reader == null || done) {
            if (wantsMore()) {
                channel.read();
            }
            return;
        }
        while (demand > 0 && !queue.isEmpty()) {
            demand--;
            ByteBuf data = merged();
            queuedBytes -= data.readableBytes();
            passed(data);
            reader.data(data);
        }
        if (queue.isEmpty() && trailers != null && demand > 0) {
            demand--;
            HttpHeaders last = trailers;
            trailers = null;
            if (!watchers.isEmpty()) {
                List<HttpHeader> converted = converted(last);
                for (BodyWatcher watcher : watchers) {
                    watcher.trailers(converted);
                }
            }
            lastPassed = System.nanoTime();
            reader.trailers(last);
        }
        if (queue.isEmpty() && trailers == null && ended) {
            done = true;
            cancelIdleCheck();
            if (failure != null) {
                reader.error(failure);
            } else {
                reader.complete();
            }
            endedReading(failure == null);
            return;
        }
        if (wantsMore()) {
            channel.read();
        }
    }

    /** The first queued buffer and those after it, as one of at most {@link #MAX_MERGED_BYTES} (no copy). */
    private ByteBuf merged() {
        ByteBuf first = queue.poll();
        if (queue.isEmpty() || first.readableBytes() + queue.peek().readableBytes() > MAX_MERGED_BYTES) {
            return first;
        }
        CompositeByteBuf merged = channel.alloc().compositeBuffer(MAX_QUEUED);
        merged.addComponent(true, first);
        while (!queue.isEmpty() && merged.readableBytes() + queue.peek().readableBytes() <= MAX_MERGED_BYTES) {
            merged.addComponent(true, queue.poll());
        }
        return merged;
    }

    private void passed(ByteBuf data) {
        lastPassed = System.nanoTime();
        if (seesData) {
            ByteString bytes = ByteString.fromArrayUnsafe(ByteBufUtil.getBytes(data));
            for (BodyWatcher watcher : watchers) {
                if (watcher.seesData()) {
                    watcher.data(bytes);
                }
            }
        }
    }

    private void endedReading(boolean readToEnd) {
        for (BodyWatcher watcher : watchers) {
            watcher.ended(readToEnd);
        }
    }

    /** Checks the idle bounds when the nearest one could have passed, and again after every check. */
    private void scheduleIdleCheck() {
        long nearest = Long.MAX_VALUE;
        for (BodyWatcher watcher : watchers) {
            if (watcher.idleBound() != null) {
                nearest = Math.min(nearest, watcher.idleBound().toNanos());
            }
        }
        if (nearest == Long.MAX_VALUE) {
            return;
        }
        long wait = Math.max(0, lastPassed + nearest - System.nanoTime());
        idleCheck = channel.eventLoop().schedule(this::checkIdle, wait, TimeUnit.NANOSECONDS);
    }

    private void checkIdle() {
        idleCheck = null;
        if (done) {
            return;
        }
        long idle = System.nanoTime() - lastPassed;
        for (BodyWatcher watcher : watchers) {
            if (watcher.idleBound() != null && idle >= watcher.idleBound().toNanos()) {
                finish(watcher.stalled());
                return;
            }
        }
        scheduleIdleCheck();
    }

    private void cancelIdleCheck() {
        if (idleCheck != null) {
            idleCheck.cancel(false);
            idleCheck = null;
        }
    }

    private void clear() {
        for (ByteBuf data = queue.poll(); data != null; data = queue.poll()) {
            data.release();
        }
        queuedBytes = 0;
        trailers = null;
    }

    /** The bytes of {@code data}, which holds heap copies only (a stream's reader gets no pooled buffer): no copy. */
    private static ByteString heapBytes(ByteBuf data) {
        if (data instanceof CompositeByteBuf composite) {
            ByteString joined = ByteString.emptyByteString();
            for (ByteBuf component : composite) {
                joined = joined.concat(heapBytes(component));
            }
            return joined;
        }
        return ByteString.fromArrayUnsafe(data.array(), data.arrayOffset() + data.readerIndex(), data.readableBytes());
    }

    private static List<HttpHeader> converted(HttpHeaders trailers) {
        List<HttpHeader> converted = new ArrayList<>();
        for (Map.Entry<String, String> trailer : trailers) {
            converted.add(HttpHeader.parse(trailer.getKey(), trailer.getValue()));
        }
        return converted;
    }

    /** True while the body has not ended and its buffer has room, or nobody reads it any more: its channel should read. */
    boolean wantsMore() {
        return !ended && (done || queue.size() < MAX_QUEUED && queuedBytes < MAX_QUEUED_BYTES);
    }
}
