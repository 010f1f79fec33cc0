package io.trellis.sidecar.transport;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.function.Supplier;
import org.apache.pekko.http.javadsl.model.HttpProtocols;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * Keep-alive HTTP/1.1 connections to one server (the app), one request per connection at a time, with
 * cancellation: when the caller abandons a request before its response headers, that connection is aborted so
 * the server sees the client go away. A connection goes back to the idle list only once its response body has
 * been read to the end; a body cut short closes it. Thread-safe.
 */
public final class Http1ConnectionPool {
    private final Supplier<Http1Connection> connector;
    private final ConcurrentLinkedDeque<Http1Connection> idle = new ConcurrentLinkedDeque<>();

    /** A pool opening connections with {@code connector}. */
    public Http1ConnectionPool(Supplier<Http1Connection> connector) {
        this.connector = connector;
    }

    /**
     * Sends {@code request} on an idle connection or a new one; when {@code abandoned} completes before the
     * response headers arrive, the connection is aborted.
     */
    public CompletionStage<HttpResponse> send(HttpRequest request, CompletionStage<?> abandoned) {
        Http1Connection connection = idleConnection();
        CompletableFuture<HttpResponse> response = connection.send(request);
        abandoned.whenComplete((x, e) -> {
            if (!response.isDone()) {
                connection.abort();
            }
        });
        return response.thenApply(answer -> {
            if (!reusable(answer)) {
                // The server closes the connection after this response: never reuse it (and let the body finish).
                return answer;
            }
            if (!BodyStreams.streamed(answer.entity())) {
                release(connection);
                return answer;
            }
            return BodyStreams.mapResponse(answer, BodyStreams.onEnd(readToEnd -> {
                if (readToEnd) {
                    release(connection);
                } else {
                    // A body cut short leaves the connection mid-message: it cannot carry another request.
                    connection.abort();
                }
            }));
        });
    }

    /** Closes every idle connection (busy ones close when their exchange ends). */
    public void close() {
        for (Http1Connection connection = idle.poll(); connection != null; connection = idle.poll()) {
            connection.close();
        }
    }

    /** False when the server said it closes the connection after this response (or spoke HTTP/1.0). */
    private static boolean reusable(HttpResponse response) {
        boolean close = response.getHeader("connection").map(h -> h.value().toLowerCase(java.util.Locale.ROOT).contains("close"))
                .orElse(false);
        return !close && response.protocol().equals(HttpProtocols.HTTP_1_1);
    }

    private Http1Connection idleConnection() {
        for (Http1Connection connection = idle.pollFirst(); connection != null; connection = idle.pollFirst()) {
            if (connection.isOpen()) {
                return connection;
            }
        }
        return connector.get();
    }

    private void release(Http1Connection connection) {
        if (connection.isOpen()) {
            // Most recently used first: warm connections stay warm, the rest time out at the server.
            idle.addFirst(connection);
        }
    }
}
