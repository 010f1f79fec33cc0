package io.trellis.sidecar.outbound;

import io.trellis.sidecar.config.Cluster;
import io.trellis.sidecar.errors.Causes;
import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.transport.HopByHopHeaders;
import io.trellis.sidecar.transport.PekkoFutures;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.HttpProtocols;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.Uri;
import org.apache.pekko.http.javadsl.model.headers.Host;

/**
 * The end of the outbound path: sends the call to its endpoint. Mesh endpoints get HTTP/2 over mTLS through
 * {@link PeerConnectionPool}; external endpoints get plain HTTP or TLS as their ExternalService says. The
 * request is turned into origin form first, with hop-by-hop headers removed.
 */
final class ForwardStage implements Stage.Next<OutboundCall> {
    private final PeerConnectionPool peers;
    private final ActorSystem<?> system;

    ForwardStage(PeerConnectionPool peers, ActorSystem<?> system) {
        this.peers = peers;
        this.system = system;
    }

    @Override
    public CompletionStage<HttpResponse> handle(OutboundCall call) {
        HttpRequest request = originForm(call.request());
        Cluster cluster = call.cluster();
        if (!cluster.external()) {
            // The app going away resets the stream, so the peer sidecar and its app see the cancellation.
            return peers.send(cluster, call.endpoint(), request, call.abandoned());
        }
        String scheme = cluster.externalTls() ? "https" : "http";
        Uri target = Uri.create(scheme + "://" + call.endpoint().authority() + request.getUri().toRelative());
        return PekkoFutures.direct(Http.get(system).singleRequest(request.withUri(target).withProtocol(HttpProtocols.HTTP_1_1)))
                .thenApply(response -> HopByHopHeaders.strip(response))
                .exceptionally(error -> {
                    throw Causes.upstreamFailure("external service " + cluster.name() + " at " + call.endpoint().authority(), error);
                });
    }

    /**
     * The request as the peer should see it: origin-form target, no hop-by-hop headers, and for an absolute-form
     * target its authority as {@code Host} (a proxy ignores the {@code Host} sent with one, RFC 9112 section 3.2.2).
     */
    static HttpRequest originForm(HttpRequest request) {
        HttpRequest out = request;
        Uri uri = request.getUri();
        if (!uri.host().address().isEmpty()) {
            // The port as written (0 when none was, or the scheme's default was spelled out), not port()'s default.
            int port = uri.asScala().authority().port();
            Host authority = port > 0 ? Host.create(uri.host().address(), port) : Host.create(uri.host().address());
            out = out.removeHeader("Host").addHeader(authority).withUri(uri.toRelative());
        }
        return HopByHopHeaders.strip(out);
    }
}
