package io.trellis.sidecar.transport;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.ToLongFunction;
import org.apache.pekko.Done;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.RequestEntity;
import org.apache.pekko.http.javadsl.model.ResponseEntity;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.SinkQueueWithCancel;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

/**
 * Watching or bounding a streamed body without buffering it. The body's elements pass through an operator and
 * the entity is rebuilt with the same content type and length; a chunked body keeps its chunks, and so its
 * trailers (gRPC's {@code grpc-status} travels in them). Bodies that arrived whole (strict or empty) are
 * returned untouched: nothing streams, so there is nothing to watch.
 */
public final class BodyStreams {
    private BodyStreams() {
    }

    /** An operation on a body's element stream, whatever the elements are (bytes, or chunks). */
    public interface Operator {
        /** {@code body} with the operation applied. */
        <T> Source<T, Object> apply(Source<T, Object> body);
    }

    /** True when {@code entity} streams (its bytes are not all in memory). */
    public static boolean streamed(HttpEntity entity) {
        return !entity.isKnownEmpty() && !entity.isStrict();
    }

    /** {@code request} with its streamed body passed through {@code operator}. */
    public static HttpRequest mapRequest(HttpRequest request, Operator operator) {
        // Both rebuilt kinds (default and chunked) are request and response entities alike.
        return streamed(request.entity()) ? request.withEntity((RequestEntity) rebuild(request.entity(), operator)) : request;
    }

    /** {@code response} with its streamed body passed through {@code operator}. */
    public static HttpResponse mapResponse(HttpResponse response, Operator operator) {
        return streamed(response.entity()) ? response.withEntity((ResponseEntity) rebuild(response.entity(), operator))
                : response;
    }

    /** Fails the body when no element passes for {@code idle}. */
    public static Operator idleTimeout(Duration idle) {
        return new Operator() {
            @Override
            public <T> Source<T, Object> apply(Source<T, Object> body) {
                return body.idleTimeout(idle);
            }
        };
    }

    /** Runs {@code onStart} when the body starts being read (it is materialized). */
    public static Operator onStart(Runnable onStart) {
        return new Operator() {
            @Override
            public <T> Source<T, Object> apply(Source<T, Object> body) {
                return body.mapMaterializedValue(materialized -> {
                    onStart.run();
                    return materialized;
                });
            }
        };
    }

    /**
     * Tells {@code onEnd} how reading the body ended: {@code true} when it was read to its end, {@code false} when
     * it failed or its reader cancelled it.
     */
    public static Operator onEnd(Consumer<Boolean> onEnd) {
        return new Operator() {
            @Override
            public <T> Source<T, Object> apply(Source<T, Object> body) {
                AtomicBoolean completed = new AtomicBoolean();
                return body
                        // Pulled only after the body completed normally, never after a cancellation.
                        .concatLazy(Source.lazySource(() -> {
                            completed.set(true);
                            return Source.<T>empty();
                        }))
                        .watchTermination((materialized, done) -> {
                            PekkoFutures.direct(done).whenComplete((d, error) -> onEnd.accept(error == null && completed.get()));
                            return materialized;
                        });
            }
        };
    }

    /**
     * A streamed body read up to {@code limit} bytes: {@code whole} when it ended within the limit (then
     * {@code entity} can be sent any number of times), otherwise the bytes read so far followed by the rest, to be
     * sent once. Chunks, and a chunked body's trailers, are kept as they arrived.
     */
    public record Prefixed(HttpEntity entity, boolean whole) {
    }

    /** Reads {@code entity}'s streamed body up to {@code limit} bytes (see {@link Prefixed}). */
    public static CompletionStage<Prefixed> readUpTo(HttpEntity entity, long limit, Materializer materializer) {
        if (entity instanceof org.apache.pekko.http.scaladsl.model.HttpEntity.Chunked chunked) {
            return readUpTo(chunked.getChunks(), part -> part.data().size(), limit, materializer)
                    .thenApply(read -> new Prefixed(rebuildChunked(chunked, new Operator() {
                        @Override
                        @SuppressWarnings("unchecked")
                        public <T> Source<T, Object> apply(Source<T, Object> body) {
                            return (Source<T, Object>) (Source<?, Object>) read.body();
                        }
                    }), read.whole()));
        }
        return readUpTo(entity.getDataBytes().mapMaterializedValue(m -> (Object) m), ByteString::size, limit, materializer)
                .thenApply(read -> new Prefixed(read.whole()
                        ? HttpEntities.create(entity.getContentType(), read.taken().stream().reduce(ByteString.emptyByteString(), ByteString::concat))
                        : entity.getContentLengthOption().isPresent()
                                ? HttpEntities.create(entity.getContentType(), entity.getContentLengthOption().getAsLong(), read.body())
                                : HttpEntities.createChunked(entity.getContentType(), read.body()), read.whole()));
    }

    private record Read<T>(List<T> taken, Source<T, Object> body, boolean whole) {
    }

    private static <T> CompletionStage<Read<T>> readUpTo(Source<T, Object> body, ToLongFunction<T> size, long limit,
            Materializer materializer) {
        SinkQueueWithCancel<T> queue = body.runWith(Sink.queue(), materializer);
        CompletableFuture<Read<T>> result = new CompletableFuture<>();
        pullUpTo(queue, size, limit, new ArrayList<>(), 0, result);
        return result;
    }

    private static <T> void pullUpTo(SinkQueueWithCancel<T> queue, ToLongFunction<T> size, long limit, List<T> taken,
            long bytes, CompletableFuture<Read<T>> result) {
        PekkoFutures.direct(queue.pull()).whenComplete((next, error) -> {
            if (error != null) {
                result.completeExceptionally(error);
            } else if (next.isEmpty()) {
                result.complete(new Read<>(taken, Source.from(taken).mapMaterializedValue(m -> (Object) m), true));
            } else {
                taken.add(next.get());
                long total = bytes + size.applyAsLong(next.get());
                if (total > limit) {
                    // Too large to keep: what was read goes first, then the rest as it comes; cancelling it cancels the body.
                    Source<T, Object> rest = Source.<T, SinkQueueWithCancel<T>>unfoldResourceAsync(
                            () -> CompletableFuture.completedFuture(queue), q -> PekkoFutures.direct(q.pull()),
                            q -> {
                                q.cancel();
                                return CompletableFuture.completedFuture(Done.getInstance());
                            }).mapMaterializedValue(m -> (Object) m);
                    result.complete(new Read<>(taken, Source.from(taken).mapMaterializedValue(m -> (Object) m).concat(rest), false));
                } else {
                    pullUpTo(queue, size, limit, taken, total, result);
                }
            }
        });
    }

    private static org.apache.pekko.http.scaladsl.model.HttpEntity.Chunked rebuildChunked(
            org.apache.pekko.http.scaladsl.model.HttpEntity.Chunked chunked, Operator operator) {
        Source<HttpEntity.ChunkStreamPart, Object> chunks = operator.apply(chunked.getChunks());
        @SuppressWarnings("unchecked")
        org.apache.pekko.stream.scaladsl.Source<org.apache.pekko.http.scaladsl.model.HttpEntity.ChunkStreamPart, Object> scala =
                (org.apache.pekko.stream.scaladsl.Source<org.apache.pekko.http.scaladsl.model.HttpEntity.ChunkStreamPart, Object>)
                        (org.apache.pekko.stream.scaladsl.Source<?, Object>) chunks.asScala();
        return new org.apache.pekko.http.scaladsl.model.HttpEntity.Chunked(chunked.contentType(), scala);
    }

    private static HttpEntity rebuild(HttpEntity entity, Operator operator) {
        if (entity instanceof org.apache.pekko.http.scaladsl.model.HttpEntity.Chunked chunked) {
            return rebuildChunked(chunked, operator);
        }
        Source<ByteString, Object> data = operator.apply(entity.getDataBytes());
        return entity.getContentLengthOption().isPresent()
                ? HttpEntities.create(entity.getContentType(), entity.getContentLengthOption().getAsLong(), data)
                : HttpEntities.createChunked(entity.getContentType(), data);
    }
}
