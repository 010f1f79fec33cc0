package io.trellis.sidecar.outbound;

import io.trellis.sidecar.balance.EndpointPicker;
import io.trellis.sidecar.config.RoutingTableRef;
import io.trellis.sidecar.identity.WorkloadIdentity;
import io.trellis.sidecar.pipeline.Edge;
import io.trellis.sidecar.pipeline.Pipeline;
import io.trellis.sidecar.pipeline.ReadyStage;
import io.trellis.sidecar.pipeline.RequestContext;
import io.trellis.sidecar.resilience.RequestTimeout;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import io.trellis.sidecar.telemetry.TraceHeaders;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.stream.Materializer;

/**
 * The outbound request path, in order: edge (errors, request id, metrics) -> ready -> route (authority, path,
 * headers) -> request timeout -> balance (pick endpoint) -> forward (mTLS HTTP/2 to the peer sidecar). Reads
 * only the routing table current when the request arrived.
 */
public final class OutboundPipeline {
    private final RoutingTableRef tables;
    private final PeerConnectionPool peers;
    private final Pipeline<OutboundCall> pipeline;

    /** Assembles the pipeline for an app in {@code namespace}. */
    public OutboundPipeline(ActorSystem<?> system, WorkloadIdentity identity, RoutingTableRef tables, ProxyMetrics metrics,
            String namespace) {
        this.tables = tables;
        this.peers = new PeerConnectionPool(system, identity);
        this.pipeline = new Pipeline<>(List.of(
                new Edge<>(metrics),
                new ReadyStage<>(identity),
                new RouteStage(namespace),
                new TimeoutStage(new RequestTimeout(system.scheduler(), Materializer.matFromSystem(system))),
                new BalanceStage(new EndpointPicker(() -> ThreadLocalRandom.current().nextDouble()))),
                new ForwardStage(peers, system));
        tables.onPublish(table -> {
            Set<PeerConnectionPool.Key> endpoints = new HashSet<>();
            table.clusters().values().forEach(cluster -> cluster.endpoints().forEach(e -> {
                if (e.identity() != null) {
                    endpoints.add(new PeerConnectionPool.Key(e.address(), e.port(), e.identity()));
                }
            }));
            peers.retainOnly(endpoints);
        });
    }

    /**
     * Handles one request from the app.
     *
     * @param fixedService the destination for requests on a declared upstream port; null to route by authority
     */
    public CompletionStage<HttpResponse> handle(HttpRequest request, String fixedService) {
        HttpRequest traced = TraceHeaders.ensure(request);
        RequestContext context = new RequestContext("outbound", TraceHeaders.requestId(traced), System.nanoTime(),
                fixedService != null ? fixedService : "unknown");
        return pipeline.handle(OutboundCall.arrived(traced, context, fixedService, tables.current().orElse(null)));
    }

    /** Closes every peer connection. */
    public void close() {
        peers.closeAll();
    }
}
