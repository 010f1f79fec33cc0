package io.trellis.sidecar.inbound;

import io.trellis.sidecar.config.RoutingTableRef;
import io.trellis.sidecar.config.ServiceName;
import io.trellis.sidecar.identity.WorkloadIdentity;
import io.trellis.sidecar.pipeline.Edge;
import io.trellis.sidecar.pipeline.Pipeline;
import io.trellis.sidecar.pipeline.ReadyStage;
import io.trellis.sidecar.pipeline.RequestContext;
import io.trellis.sidecar.resilience.RequestTimeout;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import io.trellis.sidecar.transport.netty.AppClient;
import io.trellis.sidecar.telemetry.TraceHeaders;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.stream.Materializer;

/**
 * The inbound request path, in order: edge (errors, request id, metrics) -> ready -> TLS identity and header
 * sanitising -> authorization -> rate limit -> the request body's idle bound -> the caller's deadline -> forward to
 * the app.
 */
public final class InboundPipeline {
    private final RoutingTableRef tables;
    private final String service;
    private final Pipeline<InboundCall> pipeline;

    /**
     * Assembles the pipeline for {@code self}, whose app listens on 127.0.0.1:{@code appPort}, reached through
     * {@code app}, and tells path case apart or not ({@code pathCase}).
     */
    public InboundPipeline(ActorSystem<?> system, WorkloadIdentity identity, RoutingTableRef tables, ProxyMetrics metrics,
            AppClient app, ServiceName self, int appPort, String appProtocol, PathCase pathCase) {
        this.tables = tables;
        this.service = self.name();
        AppForwarder forwarder = new AppForwarder(app, appPort, appProtocol);
        this.pipeline = new Pipeline<>(List.of(
                new Edge<>(metrics),
                new ReadyStage<>(identity),
                InboundStages.peerIdentity(pathCase),
                InboundStages.authorization(),
                new RateLimitStage(metrics, System::nanoTime),
                new BodyIdleStage(self),
                new DeadlineStage(new RequestTimeout(system.scheduler(), Materializer.matFromSystem(system)))),
                forwarder);
    }

    /**
     * Handles one request from another sidecar ({@code overTls}) or, in PERMISSIVE mode, a plaintext caller;
     * {@code abandoned} completes when the caller went away (its stream reset, its connection closed), and the app
     * request is then abandoned too.
     */
    public CompletionStage<HttpResponse> handle(HttpRequest request, boolean overTls, CompletableFuture<Void> abandoned) {
        HttpRequest traced = TraceHeaders.ensure(request);
        RequestContext context = new RequestContext("inbound", TraceHeaders.requestId(traced), System.nanoTime(), service);
        return pipeline.handle(new InboundCall(traced, context, overTls, null, traced.getUri().path(),
                tables.current().orElse(null), abandoned));
    }
}
