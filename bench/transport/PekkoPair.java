import com.typesafe.config.ConfigFactory;
import io.trellis.certs.KeyMaterial;
import io.trellis.certs.MeshKeyManager;
import io.trellis.certs.MeshTls;
import io.trellis.certs.MeshTrustManager;
import io.trellis.certs.Pem;
import io.trellis.certs.SpiffeId;
import io.trellis.certs.TrustBundle;
import io.trellis.sidecar.transport.BodyStreams;
import io.trellis.sidecar.transport.HopByHopHeaders;
import io.trellis.sidecar.transport.PekkoFutures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.ConnectionContext;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.HttpProtocols;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.japi.function.Function;
import org.apache.pekko.stream.Materializer;
import io.trellis.sidecar.errors.Causes;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.apache.pekko.Done;
import org.apache.pekko.http.javadsl.OutgoingConnection;
import org.apache.pekko.http.javadsl.model.ResponseFuture;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.QueueOfferResult;
import org.apache.pekko.stream.UniqueKillSwitch;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The transport experiment's Pekko HTTP candidate (docs/architecture.md): the same two hops as
 * {@code NettyPair}, on the sidecar's own Pekko HTTP transport classes and its Pekko settings, with no pipeline
 * stages, so that it measures the engine alone. Usage: {@code PekkoPair client DIR PORT PEER_PORT},
 * {@code PekkoPair server DIR PORT APP_PORT [h1|h2c]} (certificates from {@code NettyPair init DIR}).
 */
public final class PekkoPair {
    private static final String TRUST_DOMAIN = "cluster.local";
    private static final SpiffeId SERVER = SpiffeId.forWorkload(TRUST_DOMAIN, "default", "backend");

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[1]);
        int port = Integer.parseInt(args[2]);
        int target = Integer.parseInt(args[3]);
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "pair",
                ConfigFactory.parseResources(PekkoPair.class.getClassLoader(), "trellis-sidecar.conf")
                        .withFallback(ConfigFactory.load()));
        Materializer materializer = Materializer.matFromSystem(system);
        Http http = Http.get(system);
        TrustBundle bundle = new TrustBundle(TRUST_DOMAIN, Pem.decodeCertificates(Files.readString(dir.resolve("ca.pem"))));
        if (args[0].equals("client")) {
            SSLContext tls = MeshTls.context(load(dir, "client"), MeshTrustManager.expectingServer(() -> bundle, Clock.systemUTC(), SERVER));
            Reopening peer = new Reopening(() -> Http2Connection.open("peer", http.connectionTo("127.0.0.1").toPort(target)
                    .withCustomHttpsConnectionContext(ConnectionContext.httpsClient((host, p) -> {
                        SSLEngine engine = tls.createSSLEngine(host, p);
                        engine.setUseClientMode(true);
                        engine.setEnabledProtocols(new String[] {"TLSv1.3"});
                        return engine;
                    })).http2(), 1024, materializer));
            http.newServerAt("127.0.0.1", port).bind((Function<HttpRequest, CompletionStage<HttpResponse>>) request ->
                    peer.get().send(HopByHopHeaders.strip(request).withUri(request.getUri().toRelative()))
                            .thenApply(response -> HopByHopHeaders.strip(response).withProtocol(request.protocol())))
                    .toCompletableFuture().join();
        } else {
            SSLContext tls = MeshTls.context(load(dir, "server"), MeshTrustManager.anyIdentity(() -> bundle, Clock.systemUTC()));
            boolean h2c = args.length > 4 && args[4].equals("h2c");
            Reopening appH2c = new Reopening(() -> Http2Connection.open("app",
                    http.connectionTo("127.0.0.1").toPort(target).http2WithPriorKnowledge(), 1024, materializer));
            Http1ConnectionPool app = new Http1ConnectionPool(() -> Http1Connection.open("app",
                    http.connectionTo("127.0.0.1").toPort(target).http(), materializer));
            http.newServerAt("127.0.0.1", port).enableHttps(ConnectionContext.httpsServer(() -> {
                SSLEngine engine = tls.createSSLEngine();
                engine.setUseClientMode(false);
                engine.setNeedClientAuth(true);
                engine.setEnabledProtocols(new String[] {"TLSv1.3"});
                return engine;
            })).bind((Function<HttpRequest, CompletionStage<HttpResponse>>) request -> {
                HttpRequest out = HopByHopHeaders.strip(request).withUri(request.getUri().toRelative());
                // An absolute URI is how Pekko's HTTP/2 client is told :scheme and :authority (strict apps need both).
                String authority = request.getHeader(org.apache.pekko.http.javadsl.model.headers.Host.class)
                        .map(host -> host.value()).orElse("app");
                CompletionStage<HttpResponse> answer = h2c
                        ? appH2c.get().send(out.withUri(org.apache.pekko.http.javadsl.model.Uri.create(
                                "http://" + authority + out.getUri().toString())))
                        : app.send(out.withProtocol(HttpProtocols.HTTP_1_1), new CompletableFuture<>());
                return answer.thenApply(response -> HopByHopHeaders.strip(response));
            }).toCompletableFuture().join();
        }
        System.out.println("ready " + args[0] + " " + port);
    }

    /** One connection, opened on first use and again once it has ended (as the sidecar's pools do). */
    private static final class Reopening {
        private final java.util.function.Supplier<Http2Connection> opener;
        private Http2Connection current;

        Reopening(java.util.function.Supplier<Http2Connection> opener) {
            this.opener = opener;
        }

        synchronized Http2Connection get() {
            if (current == null || !current.isOpen()) {
                current = opener.get();
            }
            return current;
        }
    }

    private static MeshKeyManager load(Path dir, String name) throws Exception {
        return new MeshKeyManager(new KeyMaterial(Pem.decodePrivateKey(Files.readString(dir.resolve(name + ".key"))),
                Pem.decodeCertificates(Files.readString(dir.resolve(name + ".pem")))));
    }

    // The sidecar's Pekko HTTP transport classes as they were when this pair was measured (the sidecar now runs
    // on Netty and no longer has them).

    /**
     * One HTTP/1.1 connection carrying one request at a time, which its owner can abort: aborting closes the TCP
     * connection, which is how an HTTP/1.1 server learns that nobody waits for the answer any more (Envoy does the
     * same on a timeout). Pekko's host pool cannot cancel a request; this is why the sidecar keeps its own
     * connections to the app. Thread-safe; the owner must not send a second request before the first response's
     * body has ended.
     */
    static final class Http1Connection {
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

    /**
     * Keep-alive HTTP/1.1 connections to one server (the app), one request per connection at a time, with
     * cancellation: when the caller abandons a request before its response headers, that connection is aborted so
     * the server sees the client go away. A connection goes back to the idle list only once its response body has
     * been read to the end; a body cut short closes it. Thread-safe.
     */
    static final class Http1ConnectionPool {
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

    /**
     * One multiplexed HTTP/2 connection (TLS, or h2c with prior knowledge) used as request in, future response
     * out. Pekko's HTTP/2 client leaves in-flight futures open when the connection dies (for example when the TLS
     * handshake fails), so this class tracks them and fails each with a typed error: a connection that never came
     * up fails with {@code upstream-connect-failure} (the request provably never reached the peer), one that broke
     * later with {@code upstream-reset}. Thread-safe.
     */
    static final class Http2Connection {
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
}
