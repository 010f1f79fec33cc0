package io.trellis.sidecar.pipeline;

import io.trellis.sidecar.config.RoutingTable;
import org.apache.pekko.http.javadsl.model.HttpRequest;

/** What every call carries, whatever its direction. */
public interface Call {
    /** The request as the next stage should see it. */
    HttpRequest request();

    /** The request's context. */
    RequestContext context();

    /** The routing table current when the request arrived; null before the first snapshot. */
    RoutingTable table();
}
