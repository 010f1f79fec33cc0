package io.trellis.sidecar.transport.netty;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.util.ByteString;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

/**
 * A message body arriving on a Netty channel, published to Pekko Streams with backpressure: the channel reads
 * (auto-read off) only while fewer than {@link #MAX_QUEUED} chunks and {@link #MAX_QUEUED_BYTES} wait for the
 * subscriber, so a slow reader slows the sender (TCP window, or the HTTP/2 stream's flow-control window) and at most
 * that much buffers (a socket read can bring 64 KiB, so the byte bound is the one that holds for HTTP/1.1). Reading
 * ahead of demand by that bounded amount also takes in an HTTP/2 stream's last frames before the stream closes.
 * Elements are data chunks, then one last chunk carrying the trailers, if any; what one turn of the event loop read
 * goes on as one element of up to {@link #MAX_MERGED_BYTES} (each element costs a hand-off between threads). A
 * subscriber that cancels before the end tells {@code onCancel}, and the rest of the body is read and dropped (so an HTTP/2 stream's flow-control window,
 * and its connection's, keep moving while the exchange's answer is still to come). One subscriber only. Its state
 * lives on the channel's event loop.
 */
final class BodyPublisher implements Publisher<HttpEntity.ChunkStreamPart> {
    private static final int MAX_QUEUED = 16;
    /** The bytes read ahead of the reader at most (a bound per stream, whatever the chunk sizes). */
    private static final int MAX_QUEUED_BYTES = 256 * 1024;
    /** The bytes handed on in one element at most, when several chunks wait (a socket read brings many at once). */
    private static final int MAX_MERGED_BYTES = 64 * 1024;

    private final Channel channel;
    private final Runnable onCancel;
    private final ArrayDeque<HttpEntity.ChunkStreamPart> queue = new ArrayDeque<>();
    private Subscriber<? super HttpEntity.ChunkStreamPart> subscriber;
    private long demand;
    private long queuedBytes;
    private boolean ended;
    private boolean done;
    private Throwable failure;
    private boolean drainScheduled;

    /**
     * @param onCancel runs when the subscriber cancels before the body ended (a client exchange ends early, so the
     *     peer sees its reader go away; a server exchange still answers its caller)
     */
    BodyPublisher(Channel channel, Runnable onCancel) {
        this.channel = channel;
        this.onCancel = onCancel;
    }

    @Override
    public void subscribe(Subscriber<? super HttpEntity.ChunkStreamPart> candidate) {
        channel.eventLoop().execute(() -> {
            if (subscriber != null) {
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
            subscriber = candidate;
            candidate.onSubscribe(new Subscription() {
                @Override
                public void request(long n) {
                    channel.eventLoop().execute(() -> requested(n));
                }

                @Override
                public void cancel() {
                    channel.eventLoop().execute(BodyPublisher.this::cancelled);
                }
            });
            drain();
        });
    }

    /** Bytes of the body arrived (the buffer stays the caller's to release). On the event loop. */
    void data(ByteBuf content) {
        if (done || !content.isReadable()) {
            return;
        }
        ByteString bytes = ByteString.fromArrayUnsafe(ByteBufUtil.getBytes(content));
        queuedBytes += bytes.size();
        queue.add(HttpEntity.ChunkStreamPart.create(bytes));
        scheduleDrain();
    }

    /**
     * Hands on what arrived once the event loop has finished its current reads: one socket read brings many frames or
     * chunks, and each element handed to Pekko costs a hand-off between threads, so they go on together.
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
            List<HttpHeader> converted = new ArrayList<>();
            for (Map.Entry<String, String> trailer : trailers) {
                converted.add(HttpHeader.parse(trailer.getKey(), trailer.getValue()));
            }
            queue.add(HttpEntity.ChunkStreamPart.createLast("", converted));
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
        queue.clear();
        queuedBytes = 0;
        drain();
    }

    /** True once the last byte arrived (the reader may not have taken it yet). */
    boolean ended() {
        return ended;
    }

    private void requested(long n) {
        if (done) {
            return;
        }
        if (n <= 0) {
            done = true;
            subscriber.onError(new IllegalArgumentException("demand must be positive (reactive streams rule 3.9)"));
            onCancel.run();
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
        queue.clear();
        queuedBytes = 0;
        if (!ended) {
            onCancel.run();
            if (wantsMore()) {
                channel.read();
            }
        }
    }

    private void drain() {
        if (subscriber == null || done) {
            if (wantsMore()) {
                channel.read();
            }
            return;
        }
        while (demand > 0 && !queue.isEmpty()) {
            demand--;
            HttpEntity.ChunkStreamPart part = queue.poll();
            if (!part.isLastChunk()) {
                part = mergeFollowing(part);
            }
            queuedBytes -= part.data().size();
            subscriber.onNext(part);
        }
        if (queue.isEmpty() && ended) {
            done = true;
            if (failure != null) {
                subscriber.onError(failure);
            } else {
                subscriber.onComplete();
            }
            return;
        }
        if (wantsMore()) {
            channel.read();
        }
    }

    /** {@code first} and the data chunks queued after it, as one chunk of at most {@link #MAX_MERGED_BYTES}. */
    private HttpEntity.ChunkStreamPart mergeFollowing(HttpEntity.ChunkStreamPart first) {
        ByteString merged = first.data();
        while (!queue.isEmpty() && !queue.peek().isLastChunk()
                && merged.size() + queue.peek().data().size() <= MAX_MERGED_BYTES) {
            merged = merged.concat(queue.poll().data());
        }
        return merged == first.data() ? first : HttpEntity.ChunkStreamPart.create(merged);
    }

    /** True while the body has not ended and its buffer has room, or nobody reads it any more: its channel should read. */
    boolean wantsMore() {
        return !ended && (done || queue.size() < MAX_QUEUED && queuedBytes < MAX_QUEUED_BYTES);
    }
}
