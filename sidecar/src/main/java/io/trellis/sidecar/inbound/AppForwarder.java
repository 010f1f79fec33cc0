package io.trellis.sidecar.inbound;

import io.trellis.sidecar.errors.ErrorResponses;
import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.transport.HopByHopHeaders;
import io.trellis.sidecar.transport.Upgrades;
import io.trellis.sidecar.transport.netty.AppClient;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.Uri;
import org.apache.pekko.http.javadsl.model.headers.Host;

/**
 * The end of the inbound path: forwards to the app on 127.0.0.1:appPort through {@link AppClient} (Netty), speaking
 * HTTP/1.1 over keep-alive connections or h2c (prior knowledge) over one multiplexed connection: gRPC always goes
 * over h2c (it needs trailers); other requests follow {@code --app-protocol}. A request the caller abandons (its
 * deadline passed) is abandoned at the app too: its HTTP/1.1 connection closes, or its h2c stream is reset.
 * Thread-safe.
 */
final class AppForwarder implements Stage.Next<InboundCall> {
    private final int appPort;
    private final boolean h2cForAll;
    private final AppClient app;

    /** A forwarder to the app at 127.0.0.1:{@code appPort} through {@code app}; {@code appProtocol} is auto, http1 or h2c. */
    AppForwarder(AppClient app, int appPort, String appProtocol) {
        this.appPort = appPort;
        this.h2cForAll = appProtocol.equals("h2c");
        this.app = app;
    }

    @Override
    public CompletionStage<HttpResponse> handle(InboundCall call) {
        HttpRequest request = HopByHopHeaders.strip(call.request());
        String authority = authority(request, appPort);
        // An upgrade (WebSocket) is an HTTP/1.1 mechanism: it goes over HTTP/1.1 whatever the app speaks otherwise.
        CompletionStage<HttpResponse> answer = (h2cForAll || ErrorResponses.isGrpc(request)) && !Upgrades.isUpgrade(request)
                ? app.h2c(request, authority, call.abandoned())
                : app.http1(request, authority, call.abandoned());
        return answer.thenApply(AppForwarder::fromApp);
    }

    /**
     * The app's response as the calling sidecar may see it: no hop-by-hop headers, and no {@code trellis-*} headers.
     * Those are this sidecar's word to the caller ({@code trellis-error: upstream-connect-failure} tells it the app
     * never saw the request, so it may send any method again): an app, or a response it relays from another
     * service, must never speak for it. The one exception is {@link Upgrades#MARKER}, which the app client sets
     * itself on an app's {@code 101} (and removes from anything an app sends).
     */
    static HttpResponse fromApp(HttpResponse response) {
        HttpResponse out = HopByHopHeaders.strip(response);
        for (HttpHeader header : response.getHeaders()) {
            if (header.lowercaseName().startsWith("trellis-") && !header.is(Upgrades.MARKER)) {
                out = out.removeHeader(header.name());
            }
        }
        return out;
    }

    /**
     * The authority the app is sent ({@code Host}, or {@code :authority} over h2c): the caller's, as its {@code Host}
     * header or absolute target gave it; never empty (strict HTTP/2 servers such as grpc-js and Go's refuse a stream
     * without one), so 127.0.0.1:appPort when the caller gave none.
     */
    static String authority(HttpRequest request, int appPort) {
        Optional<Host> host = request.getHeader(Host.class);
        if (host.isPresent() && !host.get().host().address().isEmpty()) {
            return host.get().value();
        }
        Uri uri = request.getUri();
        if (!uri.host().address().isEmpty()) {
            // The port as the caller wrote it (0 when it wrote none), not the scheme's default that port() reports.
            int port = uri.asScala().authority().port();
            return port > 0 ? uri.host().address() + ":" + port : uri.host().address();
        }
        return "127.0.0.1:" + appPort;
    }
}
