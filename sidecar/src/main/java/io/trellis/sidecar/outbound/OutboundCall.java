package io.trellis.sidecar.outbound;

import io.trellis.sidecar.config.Cluster;
import io.trellis.sidecar.config.Endpoint;
import io.trellis.sidecar.config.RouteRule;
import io.trellis.sidecar.config.RoutingTable;
import io.trellis.sidecar.pipeline.Call;
import io.trellis.sidecar.pipeline.RequestContext;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpRequest;

/**
 * An outbound request on its way through the pipeline; each stage fills in what it decided.
 *
 * @param request the request from the app (for an attempt: the attempt's copy)
 * @param context id, start time, metrics label
 * @param abandoned completes when the app went away before its response ended (reset its stream, closed its
 *     connection): the attempt in flight is then cancelled at the peer
 * @param fixedService the destination when the request came in on a declared upstream port; null otherwise
 * @param table the routing table this request uses from start to end
 * @param cluster the destination (after routing)
 * @param rule the matched route rule (after routing)
 * @param backend the rule's backend (subset) this request goes to (after routing)
 * @param runtime the destination's live state (after routing)
 * @param deadlineNanos when the whole request must be answered ({@link System#nanoTime()} scale; after the timeout stage)
 * @param attempt 0 for the first attempt, then 1, 2... (retry stage)
 * @param trail the endpoints this request's attempts went to, shared by all its attempts
 * @param endpoint the chosen endpoint (after balancing)
 */
public record OutboundCall(HttpRequest request, RequestContext context, CompletionStage<Void> abandoned, String fixedService, RoutingTable table,
        Cluster cluster, RouteRule rule, RouteRule.WeightedBackend backend, ClusterRuntime runtime, long deadlineNanos,
        int attempt, Trail trail, Endpoint endpoint) implements Call {

    /** Where the previous attempt went, so the next one can go elsewhere. Written by the balancer, read by retries. */
    public static final class Trail {
        private volatile Endpoint last;

        /** The endpoint of the latest attempt, or null before the first. */
        public Endpoint last() {
            return last;
        }

        void picked(Endpoint endpoint) {
            last = endpoint;
        }
    }

    /** A call that has not been routed yet. */
    public static OutboundCall arrived(HttpRequest request, RequestContext context, CompletionStage<Void> abandoned,
            String fixedService, RoutingTable table) {
        return new OutboundCall(request, context, abandoned, fixedService, table, null, null, null, null, Long.MAX_VALUE, 0, new Trail(),
                null);
    }

    /** This call routed to {@code chosen} of {@code matched} in {@code routedCluster}. */
    OutboundCall routed(Cluster routedCluster, RouteRule matched, RouteRule.WeightedBackend chosen, ClusterRuntime state) {
        return new OutboundCall(request, context, abandoned, fixedService, table, routedCluster, matched, chosen, state, deadlineNanos,
                attempt, trail, endpoint);
    }

    /** This call, to be answered by {@code deadline}. */
    OutboundCall withDeadline(long deadline) {
        return new OutboundCall(request, context, abandoned, fixedService, table, cluster, rule, backend, runtime, deadline, attempt,
                trail, endpoint);
    }

    /** Attempt number {@code number} of this call, sending {@code copy}. */
    OutboundCall attempt(int number, HttpRequest copy) {
        return new OutboundCall(copy, context, abandoned, fixedService, table, cluster, rule, backend, runtime, deadlineNanos, number,
                trail, null);
    }

    /** This call sent to {@code chosen}. */
    public OutboundCall to(Endpoint chosen) {
        return new OutboundCall(request, context, abandoned, fixedService, table, cluster, rule, backend, runtime, deadlineNanos,
                attempt, trail, chosen);
    }

    /** This call with a different request. */
    public OutboundCall withRequest(HttpRequest changed) {
        return new OutboundCall(changed, context, abandoned, fixedService, table, cluster, rule, backend, runtime, deadlineNanos,
                attempt, trail, endpoint);
    }
}
