package io.trellis.sidecar.inbound;

import io.trellis.sidecar.errors.ErrorResponses;
import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.transport.HopByHopHeaders;
import io.trellis.sidecar.transport.Http1Connection;
import io.trellis.sidecar.transport.Http1ConnectionPool;
import io.trellis.sidecar.transport.Http2Connection;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpProtocols;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.Uri;
import org.apache.pekko.http.javadsl.model.headers.Host;
import org.apache.pekko.stream.Materializer;

/**
 * The end of the inbound path: forwards to the app on 127.0.0.1:appPort, speaking HTTP/1.1 over keep-alive
 * connections (closed when the caller abandons the request), or h2c (prior knowledge) over one multiplexed
 * connection: gRPC always goes over h2c (it needs trailers); other requests follow {@code --app-protocol}.
 * Thread-safe.
 */
final class AppForwarder implements Stage.Next<InboundCall> {
    private final ActorSystem<?> system;
    private final Materializer materializer;
    private final int appPort;
    private final boolean h2cForAll;
    private final AtomicReference<Http2Connection> h2c = new AtomicReference<>();
    private final Http1ConnectionPool http1;

    /** A forwarder to the app at 127.0.0.1:{@code appPort}; {@code appProtocol} is auto, http1 or h2c. */
    AppForwarder(ActorSystem<?> system, int appPort, String appProtocol) {
        this.system = system;
        this.materializer = Materializer.matFromSystem(system);
        this.appPort = appPort;
        this.h2cForAll = appProtocol.equals("h2c");
        this.http1 = new Http1ConnectionPool(() -> Http1Connection.open("the app at 127.0.0.1:" + appPort,
                Http.get(system).connectionTo("127.0.0.1").toPort(appPort).http(), materializer));
    }

    @Override
    public CompletionStage<HttpResponse> handle(InboundCall call) {
        HttpRequest request = HopByHopHeaders.strip(call.request());
        if (h2cForAll || ErrorResponses.isGrpc(request)) {
            return h2cConnection().send(forH2c(request, appPort)).thenApply(AppForwarder::fromApp);
        }
        return http1.send(request.withUri(request.getUri().toRelative()).withProtocol(HttpProtocols.HTTP_1_1), call.abandoned())
                .thenApply(AppForwarder::fromApp);
    }

    /**
     * The app's response as the calling sidecar may see it: no hop-by-hop headers, and no {@code trellis-*} headers.
     * Those are this sidecar's word to the caller ({@code trellis-error: upstream-connect-failure} tells it the app
     * never saw the request, so it may send any method again): an app, or a response it relays from another
     * service, must never speak for it.
     */
    static HttpResponse fromApp(HttpResponse response) {
        HttpResponse out = HopByHopHeaders.strip(response);
        for (HttpHeader header : response.getHeaders()) {
            if (header.lowercaseName().startsWith("trellis-")) {
                out = out.removeHeader(header.name());
            }
        }
        return out;
    }

    /**
     * {@code request} as an h2c app must see it: {@code :scheme http} and the caller's authority (strict servers such
     * as grpc-js and Go's refuse a stream without them), and no {@code host} header beside {@code :authority}.
     * Pekko's HTTP/2 client takes both pseudo-headers from an absolute URI.
     */
    static HttpRequest forH2c(HttpRequest request, int appPort) {
        Uri uri = request.getUri();
        String authority = uri.host().address();
        // The port as the caller wrote it (0 when it wrote none), not the scheme's default that port() reports.
        int port = uri.asScala().authority().port();
        Optional<Host> host = request.getHeader(Host.class);
        if (authority.isEmpty() && host.isPresent()) {
            authority = host.get().host().address();
            port = host.get().port();
        }
        if (authority.isEmpty()) {
            authority = "127.0.0.1";
            port = appPort;
        }
        return request.removeHeader("Host").withUri(uri.toRelative().scheme("http").host(authority).port(port));
    }

    private Http2Connection h2cConnection() {
        Http2Connection current = h2c.get();
        return current != null && current.isOpen() ? current : reopenH2c();
    }

    /** Opens the h2c connection once, however many requests find it closed at the same time. */
    private synchronized Http2Connection reopenH2c() {
        Http2Connection current = h2c.get();
        if (current == null || !current.isOpen()) {
            current = Http2Connection.open("app at 127.0.0.1:" + appPort,
                    Http.get(system).connectionTo("127.0.0.1").toPort(appPort).http2WithPriorKnowledge(), 1024, materializer);
            h2c.set(current);
        }
        return current;
    }

    /** Closes the app connections (busy HTTP/1.1 ones once their exchange ends). */
    void close() {
        http1.close();
        Http2Connection connection = h2c.getAndSet(null);
        if (connection != null) {
            connection.close();
        }
    }
}
