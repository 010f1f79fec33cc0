package io.trellis.sidecar.outbound;

import io.trellis.sidecar.balance.WeightedRandom;
import io.trellis.sidecar.config.RoutingTableRef;
import io.trellis.sidecar.identity.WorkloadIdentity;
import io.trellis.sidecar.pipeline.Edge;
import io.trellis.sidecar.pipeline.Pipeline;
import io.trellis.sidecar.pipeline.ReadyStage;
import io.trellis.sidecar.pipeline.RequestContext;
import io.trellis.sidecar.resilience.RequestTimeout;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import io.trellis.sidecar.transport.EventLoops;
import io.trellis.sidecar.telemetry.TraceHeaders;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.DoubleSupplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.stream.Materializer;

/**
 * The outbound request path, in order:
 * <ol>
 *   <li>edge (errors, request id, retry note, metrics) -> ready -> route (service, rule, weighted backend)</li>
 *   <li>-> fallback (static answer when the service cannot be called) -> fault injection</li>
 *   <li>-> request deadline -> circuit breaker of the backend set (final outcomes) -> retry, which runs each attempt through</li>
 *   <li>-> concurrency limit -> balance (pick a healthy endpoint) -> endpoint feedback (load,
 *       outlier detection) -> attempt timeout -> stream idle timeout -> forward (mTLS HTTP/2 to the peer sidecar).</li>
 * </ol>
 * Reads only the routing table current when the request arrived; per-cluster state lives in {@link ClusterRuntimes}.
 */
public final class OutboundPipeline {
    private final RoutingTableRef tables;
    private final PeerConnectionPool peers;
    private final ClusterRuntimes runtimes;
    private final Pipeline<OutboundCall> pipeline;

    /** Assembles the pipeline for an app in {@code namespace}. */
    public OutboundPipeline(ActorSystem<?> system, WorkloadIdentity identity, RoutingTableRef tables, ProxyMetrics metrics,
            EventLoops loops, String namespace) {
        this.tables = tables;
        Materializer materializer = Materializer.matFromSystem(system);
        this.peers = new PeerConnectionPool(loops, materializer, identity);
        this.runtimes = new ClusterRuntimes(system, metrics, System::nanoTime);
        RequestTimeout timeout = new RequestTimeout(system.scheduler(), materializer);
        DoubleSupplier random = () -> ThreadLocalRandom.current().nextDouble();
        this.pipeline = new Pipeline<>(List.of(
                new Edge<>(metrics),
                new ReadyStage<>(identity),
                new RouteStage(namespace, runtimes, new WeightedRandom(random)),
                new FallbackStage(metrics),
                new FaultStage(system.scheduler(), materializer, random, metrics),
                new TimeoutStage(timeout),
                new BreakerStage(metrics),
                new RetryStage(system.scheduler(), materializer, metrics, System::nanoTime, random),
                new LimitStage(metrics),
                new BalanceStage(),
                new FeedbackStage(),
                new AttemptTimeoutStage(timeout),
                new StreamIdleStage()),
                new ForwardStage(peers, system));
        tables.onPublish(table -> {
            runtimes.published(table);
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
     * @param abandoned completes when the app went away before the response ended
     */
    public CompletionStage<HttpResponse> handle(HttpRequest request, String fixedService, CompletionStage<Void> abandoned) {
        HttpRequest traced = TraceHeaders.ensure(request);
        RequestContext context = new RequestContext("outbound", TraceHeaders.requestId(traced), System.nanoTime(),
                fixedService != null ? fixedService : "unknown");
        return pipeline.handle(OutboundCall.arrived(traced, context, abandoned, fixedService, tables.current().orElse(null)));
    }

    /** Closes every peer connection and stops the outlier detectors. */
    public void close() {
        peers.closeAll();
        runtimes.closeAll();
    }
}
