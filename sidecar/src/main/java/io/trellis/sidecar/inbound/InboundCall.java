package io.trellis.sidecar.inbound;

import io.trellis.certs.SpiffeId;
import io.trellis.sidecar.config.RoutingTable;
import io.trellis.sidecar.pipeline.Call;
import io.trellis.sidecar.pipeline.RequestContext;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.http.javadsl.model.HttpRequest;

/**
 * An inbound request on its way to the app.
 *
 * @param request the request as the next stage should see it
 * @param context id, start time, metrics label
 * @param overTls whether it arrived over TLS (a plaintext arrival is only possible in PERMISSIVE mode)
 * @param peer the caller's verified identity; null for plaintext callers (and before the identity stage)
 * @param path the normalised path authorization decides on and the app receives (after normalisation)
 * @param table the routing table current when the request arrived; null before the first snapshot
 * @param abandoned completed when nobody waits for the app's answer any more (the caller's deadline passed)
 */
public record InboundCall(HttpRequest request, RequestContext context, boolean overTls, SpiffeId peer, String path,
        RoutingTable table, CompletableFuture<Void> abandoned) implements Call {

    /** This call with the verified peer, the sanitised request and its normalised path. */
    public InboundCall identified(HttpRequest sanitised, SpiffeId verified, String normalisedPath) {
        return new InboundCall(sanitised, context, overTls, verified, normalisedPath, table, abandoned);
    }

    /** This call with a different request. */
    public InboundCall withRequest(HttpRequest changed) {
        return new InboundCall(changed, context, overTls, peer, path, table, abandoned);
    }
}
