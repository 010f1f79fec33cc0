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
 * @param request the request from the app (for an attempt: the attempt's copy)
 * @param context id, start time, metrics label
 * @param fixedService the destination when the request came in on a declared upstream port; null otherwise
 * @param table the routing table this request uses from start to end
 * @param cluster the destination (after routing)
 * @param rule the matched route rule (after routing)
 * @param backend the rule's backend (subset) this request goes to (after routing)
 * @param runtime the destination's live state (after routing)
 * @param deadlineNanos when the whole request must be answered ({@link System#nanoTime()} scale; after the timeout stage)
 * @param attempt 0 for the first attempt, then 1, 2... (retry stage)
 * @param previous the endpoint of the previous attempt, avoided when another exists; null on the first
 * @param endpoint the chosen endpoint (after balancing)
 */
public record OutboundCall(HttpRequest request, RequestContext context, String fixedService, RoutingTable table,
        Cluster cluster, RouteRule rule, RouteRule.WeightedBackend backend, ClusterRuntime runtime, long deadlineNanos,
        int attempt, Endpoint previous, Endpoint endpoint) implements Call {

    /** A call that has not been routed yet. */
    public static OutboundCall arrived(HttpRequest request, RequestContext context, String fixedService, RoutingTable table) {
        return new OutboundCall(request, context, fixedService, table, null, null, null, null, Long.MAX_VALUE, 0, null, null);
    }

    /** This call routed to {@code chosen} of {@code matched} in {@code routedCluster}. */
    OutboundCall routed(Cluster routedCluster, RouteRule matched, RouteRule.WeightedBackend chosen, ClusterRuntime state) {
        return new OutboundCall(request, context, fixedService, table, routedCluster, matched, chosen, state, deadlineNanos,
                attempt, previous, endpoint);
    }

    /** This call, to be answered by {@code deadline}. */
    OutboundCall withDeadline(long deadline) {
        return new OutboundCall(request, context, fixedService, table, cluster, rule, backend, runtime, deadline, attempt,
                previous, endpoint);
    }

    /** Attempt number {@code number} of this call, sending {@code copy}, after one at {@code last} (or null). */
    OutboundCall attempt(int number, HttpRequest copy, Endpoint last) {
        return new OutboundCall(copy, context, fixedService, table, cluster, rule, backend, runtime, deadlineNanos, number,
                last, null);
    }

    /** This call sent to {@code chosen}. */
    public OutboundCall to(Endpoint chosen) {
        return new OutboundCall(request, context, fixedService, table, cluster, rule, backend, runtime, deadlineNanos,
                attempt, previous, chosen);
    }

    /** This call with a different request. */
    public OutboundCall withRequest(HttpRequest changed) {
        return new OutboundCall(changed, context, fixedService, table, cluster, rule, backend, runtime, deadlineNanos,
                attempt, previous, endpoint);
    }
}
