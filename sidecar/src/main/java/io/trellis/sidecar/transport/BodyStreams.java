package io.trellis.sidecar.transport;

import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.RequestEntity;
import org.apache.pekko.http.javadsl.model.ResponseEntity;
import org.apache.pekko.stream.StreamIdleTimeoutException;
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

    /**
     * Fails a request body when no element passes for {@code idle}, with the caller's {@code request-timeout}: the
     * exchange that streams the body on ends with it (a peer stream is reset, an app connection closed), and the
     * caller is answered, never the upstream blamed.
     */
    public static Operator requestIdleTimeout(Duration idle) {
        return new Operator() {
            @Override
            public <T> Source<T, Object> apply(Source<T, Object> body) {
                return body.idleTimeout(idle).mapError(StreamIdleTimeoutException.class, stalled -> new ProxyException(
                        ProxyError.REQUEST_TIMEOUT, "the request body carried no byte for " + idle.toMillis() + " ms"));
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
     * A copy of a streamed body kept while it is sent, up to {@code limit} bytes, so that it can be sent again: nothing
     * waits for it (a gRPC stream that sends one message and waits for the answer flows at once). Once the body has
     * ended within the limit, {@link #replay} gives it again, chunks and a chunked body's trailers as they came; a
     * body that outgrew the limit, or was not read to its end, cannot be replayed. Thread-safe.
     */
    public static final class Recording {
        private final long limit;
        private final List<Object> elements = new ArrayList<>();
        private long bytes;
        private boolean overflowed;
        private boolean complete;
        private final java.util.concurrent.CompletableFuture<Void> settled = new java.util.concurrent.CompletableFuture<>();

        /** A recording of at most {@code limit} bytes. */
        public Recording(long limit) {
            this.limit = limit;
        }

        /** {@code request} with its streamed body recorded as it is read. */
        public HttpRequest record(HttpRequest request) {
            return mapRequest(request, new Operator() {
                @Override
                public <T> Source<T, Object> apply(Source<T, Object> body) {
                    return onEnd(Recording.this::ended).apply(body.map(element -> {
                        keep(element);
                        return element;
                    }));
                }
            });
        }

        /** True once the whole body was read and fits the limit. */
        public synchronized boolean replayable() {
            return complete && !overflowed;
        }

        /**
         * Completes once it is known whether the body can be replayed: it ended (read to its end or not), or it
         * outgrew the limit.
         */
        public java.util.concurrent.CompletionStage<Void> settled() {
            return settled;
        }

        /** {@code request} with the recorded body in place of its own; only when {@link #replayable}. */
        public HttpRequest replay(HttpRequest request) {
            List<Object> copy;
            synchronized (this) {
                copy = List.copyOf(elements);
            }
            return mapRequest(request, new Operator() {
                @Override
                @SuppressWarnings("unchecked")
                public <T> Source<T, Object> apply(Source<T, Object> body) {
                    return Source.from((List<T>) copy).mapMaterializedValue(m -> (Object) m);
                }
            });
        }

        private void ended(boolean readToEnd) {
            synchronized (this) {
                complete = readToEnd;
            }
            settled.complete(null);
        }

        private synchronized void keep(Object element) {
            if (overflowed) {
                return;
            }
            bytes += element instanceof ByteString data ? data.size() : ((HttpEntity.ChunkStreamPart) element).data().size();
            if (bytes > limit) {
                overflowed = true;
                elements.clear();
                settled.complete(null);
            } else {
                elements.add(element);
            }
        }
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
