package io.trellis.sidecar.transport;

import java.time.Duration;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.stream.StreamIdleTimeoutException;
import org.apache.pekko.util.ByteString;

/**
 * What a pipeline stage watches or bounds on a streamed body as it passes, without buffering it: when it starts being
 * read, its bytes, its trailers, how it ended, and how long it may carry nothing. A watcher is one description with
 * two executions (see {@link BodyStreams#watch}): the engine that reads the body runs it where it reads (no stream
 * stage, no hop between threads), or a stream operator does where the body was rebuilt. Callbacks come one at a time,
 * in order, from whichever thread reads the body.
 */
public interface BodyWatcher {
    /** The body started being read. */
    default void started() {
    }

    /** Whether {@link #data} wants the bytes (seeing them costs a copy of each chunk where the engine reads them). */
    default boolean seesData() {
        return false;
    }

    /** Bytes of the body passed to its reader; only when {@link #seesData}. */
    default void data(ByteString bytes) {
    }

    /** A chunked body's trailers passed (a body without trailers never calls this). */
    default void trailers(Iterable<HttpHeader> trailers) {
    }

    /** The body's reading ended: {@code true} when it was read to its end, {@code false} when it failed or was cancelled. */
    default void ended(boolean readToEnd) {
    }

    /** The longest the body may pass nothing before it fails with {@link #stalled}; null for no bound. */
    default Duration idleBound() {
        return null;
    }

    /** The failure a body ends with when nothing passed for {@link #idleBound}. */
    default Throwable stalled() {
        return new StreamIdleTimeoutException("no element passed in the last " + idleBound().toMillis() + " milliseconds");
    }
}
