package io.trellis.sidecar.transport;

import io.trellis.sidecar.errors.Causes;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.Done;
import org.apache.pekko.http.javadsl.OutgoingConnection;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.QueueOfferResult;
import org.apache.pekko.stream.UniqueKillSwitch;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * One HTTP/1.1 connection carrying one request at a time, which its owner can abort: aborting closes the TCP
 * connection, which is how an HTTP/1.1 server learns that nobody waits for the answer any more (Envoy does the
 * same on a timeout). Pekko's host pool cannot cancel a request; this is why the sidecar keeps its own
 * connections to the app. Thread-safe; the owner must not send a second request before the first response's
 * body has ended.
 */
public final class Http1Connection {
    private final String peer;
    private final BoundedSourceQueue<HttpRequest> requests;
    private final UniqueKillSwitch killSwitch;
    private final AtomicReference<CompletableFuture<HttpResponse>> pending = new AtomicReference<>();
    private volatile boolean closed;

    private Http1Connection(String peer, Flow<HttpRequest, HttpResponse, CompletionStage<OutgoingConnection>> flow,
            Materializer materializer) {
        this.peer = peer;
        Pair<Pair<BoundedSourceQueue<HttpRequest>, UniqueKillSwitch>, CompletionStage<Done>> running =
                Source.<HttpRequest>queue(1)
                        .viaMat(KillSwitches.single(), Keep.both())
                        .via(flow)
                        .toMat(Sink.foreach(this::deliver), Keep.both())
                        .run(materializer);
        this.requests = running.first().first();
        this.killSwitch = running.first().second();
        PekkoFutures.direct(running.second()).whenComplete((done, error) -> terminated(error));
    }

    /** Opens a connection through {@code flow} (from {@code connectionTo(host).toPort(port).http()}). */
    public static Http1Connection open(String peer, Flow<HttpRequest, HttpResponse, CompletionStage<OutgoingConnection>> flow,
            Materializer materializer) {
        return new Http1Connection(peer, flow, materializer);
    }

    /** Sends {@code request}; the future fails with a typed {@code ProxyException} when the connection breaks first. */
    public CompletableFuture<HttpResponse> send(HttpRequest request) {
        CompletableFuture<HttpResponse> response = new CompletableFuture<>();
        if (closed || !pending.compareAndSet(null, response)) {
            response.completeExceptionally(Causes.upstreamFailure(peer, null, true));
            return response;
        }
        if (requests.offer(request) != QueueOfferResult.enqueued()) {
            pending.set(null);
            response.completeExceptionally(Causes.upstreamFailure(peer, null, true));
        }
        return response;
    }

    /** False once the connection has ended or was aborted. */
    public boolean isOpen() {
        return !closed;
    }

    /** Closes the connection at once; a request in flight fails. */
    public void abort() {
        closed = true;
        killSwitch.abort(new java.io.IOException("aborted by the sidecar: nobody waits for the answer"));
    }

    /** Closes the connection once idle; nothing to do when it already ended. */
    public void close() {
        closed = true;
        try {
            requests.complete();
        } catch (IllegalStateException alreadyEnded) {
            // The peer closed it first (the queue ends with the stream): already closed.
        }
    }

    private void deliver(HttpResponse response) {
        CompletableFuture<HttpResponse> waiting = pending.getAndSet(null);
        if (waiting != null) {
            waiting.complete(response);
        }
    }

    private void terminated(Throwable error) {
        closed = true;
        CompletableFuture<HttpResponse> waiting = pending.getAndSet(null);
        if (waiting != null) {
            waiting.completeExceptionally(error == null ? Causes.upstreamFailure(peer, null, false)
                    : Causes.upstreamFailure(peer, error));
        }
    }
}
