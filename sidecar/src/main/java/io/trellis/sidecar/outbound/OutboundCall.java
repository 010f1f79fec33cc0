package io.trellis.sidecar.outbound;

import io.trellis.sidecar.config.Cluster;
import io.trellis.sidecar.config.Endpoint;
import io.trellis.sidecar.config.RouteRule;
import io.trellis.sidecar.config.RoutingTable;
import io.trellis.sidecar.pipeline.Call;
import io.trellis.sidecar.pipeline.RequestContext;
import org.apache.pekko.http.javadsl.model.HttpRequest;

/**
 * An outbound request on its way through the pipeline; each stage fills in what it decided.
 *
 * @param request the request from the app
 * @param context id, start time, metrics label
 * @param fixedService the destination when the request came in on a declared upstream port; null otherwise
 * @param table the routing table this request uses from start to end
 * @param cluster the destination (after routing)
 * @param rule the matched route rule (after routing)
 * @param endpoint the chosen endpoint (after balancing)
 */
public record OutboundCall(HttpRequest request, RequestContext context, String fixedService, RoutingTable table,
        Cluster cluster, RouteRule rule, Endpoint endpoint) implements Call {

    /** A call that has not been routed yet. */
    public static OutboundCall arrived(HttpRequest request, RequestContext context, String fixedService, RoutingTable table) {
        return new OutboundCall(request, context, fixedService, table, null, null, null);
    }

    /** This call routed to {@code cluster} by {@code rule}. */
    public OutboundCall routed(Cluster routedCluster, RouteRule matched) {
        return new OutboundCall(request, context, fixedService, table, routedCluster, matched, null);
    }

    /** This call sent to {@code chosen}. */
    public OutboundCall to(Endpoint chosen) {
        return new OutboundCall(request, context, fixedService, table, cluster, rule, chosen);
    }

    /** This call with a different request. */
    public OutboundCall withRequest(HttpRequest changed) {
        return new OutboundCall(changed, context, fixedService, table, cluster, rule, endpoint);
    }
}
