package io.trellis.sidecar.transport;

import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.RequestEntity;
import org.apache.pekko.http.javadsl.model.ResponseEntity;
import org.apache.pekko.stream.StreamIdleTimeoutException;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

/**
 * Watching or bounding a streamed body without buffering it, with {@link BodyWatcher}s. A body that arrived on one of
 * this sidecar's connections and is still the entity made for it ({@link WatchedBody}) is watched by its engine where
 * it reads the bytes, and the message is returned as it is; any other streamed body passes through a stream operator
 * that does the same, and the entity is rebuilt with the same content type and length (a chunked body keeps its
 * chunks, and so its trailers: gRPC's {@code grpc-status} travels in them). Bodies that arrived whole (strict or
 * empty) are returned untouched: nothing streams, so there is nothing to watch.
 */
public final class BodyStreams {
    private BodyStreams() {
    }

    /** An operation on a body's element stream, whatever the elements are (bytes, or chunks). */
    private interface Operator {
        /** {@code body} with the operation applied. */
        <T> Source<T, Object> apply(Source<T, Object> body);
    }

    /** True when {@code entity} streams (its bytes are not all in memory). */
    public static boolean streamed(HttpEntity entity) {
        return !entity.isKnownEmpty() && !entity.isStrict();
    }

    /** {@code request} with its streamed body watched by {@code watcher}. */
    public static HttpRequest watch(HttpRequest request, BodyWatcher watcher) {
        HttpEntity entity = request.entity();
        if (!streamed(entity) || watchedWhereRead(request.getAttribute(WatchedBody.ATTRIBUTE), entity, watcher)) {
            return request;
        }
        // Both rebuilt kinds (default and chunked) are request and response entities alike.
        return request.withEntity((RequestEntity) rebuild(entity, operator(watcher)));
    }

    /** {@code response} with its streamed body watched by {@code watcher}. */
    public static HttpResponse watch(HttpResponse response, BodyWatcher watcher) {
        HttpEntity entity = response.entity();
        if (!streamed(entity) || watchedWhereRead(response.getAttribute(WatchedBody.ATTRIBUTE), entity, watcher)) {
            return response;
        }
        return response.withEntity((ResponseEntity) rebuild(entity, operator(watcher)));
    }

    private static boolean watchedWhereRead(Optional<WatchedBody> body, HttpEntity entity, BodyWatcher watcher) {
        return body.isPresent() && body.get().is(entity) && body.get().watch(watcher);
    }

    /** Fails the body when nothing passes for {@code idle}. */
    public static BodyWatcher idleTimeout(Duration idle) {
        return new BodyWatcher() {
            @Override
            public Duration idleBound() {
                return idle;
            }
        };
    }

    /**
     * Fails a request body when nothing passes for {@code idle}, with the caller's {@code request-timeout}: the
     * exchange that streams the body on ends with it (a peer stream is reset, an app connection closed), and the
     * caller is answered, never the upstream blamed.
     */
    public static BodyWatcher requestIdleTimeout(Duration idle) {
        return new BodyWatcher() {
            @Override
            public Duration idleBound() {
                return idle;
            }

            @Override
            public Throwable stalled() {
                return new ProxyException(ProxyError.REQUEST_TIMEOUT, "the request body carried no byte for " + idle.toMillis() + " ms");
            }
        };
    }

    /** Runs {@code onStart} when the body starts being read. */
    public static BodyWatcher onStart(Runnable onStart) {
        return new BodyWatcher() {
            @Override
            public void started() {
                onStart.run();
            }
        };
    }

    /**
     * Tells {@code onEnd} how reading the body ended: {@code true} when it was read to its end, {@code false} when
     * it failed or its reader cancelled it.
     */
    public static BodyWatcher onEnd(Consumer<Boolean> onEnd) {
        return new BodyWatcher() {
            @Override
            public void ended(boolean readToEnd) {
                onEnd.accept(readToEnd);
            }
        };
    }

    /** {@code watcher} as a stream operator, for a body its engine cannot watch. */
    private static Operator operator(BodyWatcher watcher) {
        return new Operator() {
            @Override
            public <T> Source<T, Object> apply(Source<T, Object> body) {
                Source<T, Object> watched = body;
                if (watcher.idleBound() != null) {
                    watched = watched.idleTimeout(watcher.idleBound())
                            .mapError(StreamIdleTimeoutException.class, stalled -> watcher.stalled());
                }
                watched = watched.map(element -> {
                    passed(watcher, element);
                    return element;
                });
                AtomicBoolean completed = new AtomicBoolean();
                return watched
                        // Pulled only after the body completed normally, never after a cancellation.
                        .concatLazy(Source.lazySource(() -> {
                            completed.set(true);
                            return Source.<T>empty();
                        }))
                        .watchTermination((materialized, done) -> {
                            PekkoFutures.direct(done).whenComplete((d, error) -> watcher.ended(error == null && completed.get()));
                            return materialized;
                        })
                        .mapMaterializedValue(materialized -> {
                            watcher.started();
                            return materialized;
                        });
            }
        };
    }

    private static void passed(BodyWatcher watcher, Object element) {
        if (element instanceof ByteString bytes) {
            if (watcher.seesData()) {
                watcher.data(bytes);
            }
            return;
        }
        HttpEntity.ChunkStreamPart part = (HttpEntity.ChunkStreamPart) element;
        if (watcher.seesData() && !part.data().isEmpty()) {
            watcher.data(part.data());
        }
        if (part.isLastChunk() && part.getTrailerHeaders().iterator().hasNext()) {
            watcher.trailers(part.getTrailerHeaders());
        }
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
        private boolean chunked;
        private final java.util.concurrent.CompletableFuture<Void> settled = new java.util.concurrent.CompletableFuture<>();

        /** A recording of at most {@code limit} bytes. */
        public Recording(long limit) {
            this.limit = limit;
        }

        /** {@code request} with its streamed body recorded as it is read. */
        public HttpRequest record(HttpRequest request) {
            synchronized (this) {
                chunked = request.entity() instanceof HttpEntity.Chunked;
            }
            return watch(request, new BodyWatcher() {
                @Override
                public boolean seesData() {
                    return true;
                }

                @Override
                public void data(ByteString data) {
                    keep(data, null);
                }

                @Override
                public void trailers(Iterable<HttpHeader> trailers) {
                    keep(ByteString.emptyByteString(), trailers);
                }

                @Override
                public void ended(boolean readToEnd) {
                    Recording.this.ended(readToEnd);
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
            return request.withEntity((RequestEntity) rebuild(request.entity(), new Operator() {
                @Override
                @SuppressWarnings("unchecked")
                public <T> Source<T, Object> apply(Source<T, Object> body) {
                    return Source.from((List<T>) copy).mapMaterializedValue(m -> (Object) m);
                }
            }));
        }

        private void ended(boolean readToEnd) {
            synchronized (this) {
                complete = readToEnd;
            }
            settled.complete(null);
        }

        /** Keeps {@code data} as the body's element type has it: a chunk (the last one with its trailers), or bytes. */
        private synchronized void keep(ByteString data, Iterable<HttpHeader> trailers) {
            if (overflowed) {
                return;
            }
            bytes += data.size();
            if (bytes > limit) {
                overflowed = true;
                elements.clear();
                settled.complete(null);
            } else if (trailers != null) {
                List<HttpHeader> kept = new ArrayList<>();
                trailers.forEach(kept::add);
                elements.add(HttpEntity.ChunkStreamPart.createLast("", kept));
            } else {
                elements.add(chunked ? HttpEntity.ChunkStreamPart.create(data) : data);
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
