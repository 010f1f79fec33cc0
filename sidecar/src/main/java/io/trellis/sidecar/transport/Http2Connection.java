package io.trellis.sidecar.transport;

import io.trellis.sidecar.errors.Causes;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.Done;
import org.apache.pekko.http.javadsl.OutgoingConnection;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.ResponseFuture;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.QueueOfferResult;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * One multiplexed HTTP/2 connection (TLS, or h2c with prior knowledge) used as request in, future response
 * out. Pekko's HTTP/2 client leaves in-flight futures open when the connection dies (for example when the TLS
 * handshake fails), so this class tracks them and fails each with a typed error: a connection that never came
 * up fails with {@code upstream-connect-failure} (the request provably never reached the peer), one that broke
 * later with {@code upstream-reset}. Thread-safe.
 */
public final class Http2Connection {
    private final String peer;
    private final BoundedSourceQueue<HttpRequest> requests;
    private final CompletableFuture<OutgoingConnection> established;
    private final Set<CompletableFuture<HttpResponse>> inFlight = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    private Http2Connection(String peer, Flow<HttpRequest, HttpResponse, CompletionStage<OutgoingConnection>> flow,
            int maxQueued, Materializer materializer) {
        this.peer = peer;
        Pair<Pair<BoundedSourceQueue<HttpRequest>, CompletionStage<OutgoingConnection>>, CompletionStage<Done>> running =
                Source.<HttpRequest>queue(maxQueued)
                        .viaMat(flow, Keep.both())
                        .toMat(Sink.foreach(Http2Connection::deliver), Keep.both())
                        .run(materializer);
        this.requests = running.first().first();
        this.established = running.first().second().toCompletableFuture();
        PekkoFutures.direct(running.second()).whenComplete((done, error) -> terminated(error));
    }

    /**
     * Opens a connection through {@code flow} (from Pekko's {@code connectionTo(..).http2()} or
     * {@code http2WithPriorKnowledge()}).
     *
     * @param peer how the peer is named in errors ({@code address:port})
     * @param maxQueued requests that may wait for a free stream before {@code overloaded}
     */
    public static Http2Connection open(String peer, Flow<HttpRequest, HttpResponse, CompletionStage<OutgoingConnection>> flow,
            int maxQueued, Materializer materializer) {
        return new Http2Connection(peer, flow, maxQueued, materializer);
    }

    /** Sends {@code request}; the future fails with a {@link ProxyException} when the connection cannot carry it. */
    public CompletionStage<HttpResponse> send(HttpRequest request) {
        CompletableFuture<HttpResponse> response = new CompletableFuture<>();
        if (closed) {
            response.completeExceptionally(new ProxyException(ProxyError.UPSTREAM_CONNECT_FAILURE,
                    "connection to " + peer + " is closed"));
            return response;
        }
        inFlight.add(response);
        response.whenComplete((r, e) -> inFlight.remove(response));
        QueueOfferResult offered = requests.offer(request.addAttribute(ResponseFuture.KEY(), new ResponseFuture(response)));
        if (offered != QueueOfferResult.enqueued()) {
            response.completeExceptionally(offered == QueueOfferResult.dropped()
                    ? new ProxyException(ProxyError.OVERLOADED, "too many requests waiting for a stream to " + peer + " (connectionLimits.maxPendingRequests)")
                    : new ProxyException(ProxyError.UPSTREAM_CONNECT_FAILURE, "connection to " + peer + " is closed"));
        }
        // A close that raced with the offer above would leave this future unanswered.
        if (closed) {
            failInFlight(null);
        }
        return response;
    }

    /** False once the connection has ended; the owner then opens a new one. */
    public boolean isOpen() {
        return !closed;
    }

    /** Requests sent and not yet answered with response headers. */
    public int inFlight() {
        return inFlight.size();
    }

    /** Stops accepting requests; streams already open finish (the peer sees a clean end). */
    public void close() {
        requests.complete();
    }

    private static void deliver(HttpResponse response) {
        response.getAttribute(ResponseFuture.KEY()).ifPresent(association -> association.future().complete(response));
    }

    private void terminated(Throwable error) {
        closed = true;
        failInFlight(error);
    }

    private void failInFlight(Throwable error) {
        // The TCP connection may be up while TLS still fails (a wrong peer identity): that is "never connected" too.
        boolean connected = established.isDone() && !established.isCompletedExceptionally()
                && (error == null || !Causes.neverConnected(error));
        for (CompletableFuture<HttpResponse> response : inFlight) {
            response.completeExceptionally(Causes.upstreamFailure(peer, error, !connected));
        }
    }

}
