package io.trellis.sidecar.outbound;

import io.trellis.sidecar.SidecarConfig;
import io.trellis.sidecar.lifecycle.Drainable;
import io.trellis.sidecar.transport.EventLoops;
import io.trellis.sidecar.transport.netty.NettyHttpServer;
import io.trellis.sidecar.transport.netty.ListenerLimits;
import io.trellis.sidecar.transport.netty.Redirects;
import io.trellis.sidecar.transport.netty.RequestHandler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.stream.Materializer;

/**
 * The app-facing listeners on 127.0.0.1, on Netty ({@link NettyHttpServer}, plaintext only: HTTP/1.1, and h2c with
 * prior knowledge): the main outbound port, which routes by authority or absolute-form target (so
 * {@code HTTP_PROXY} works) and takes the connections the pod's redirect brings ({@link RedirectedConnections}), and
 * one port per declared upstream that routes everything to its service. The app
 * going away (a reset stream, a closed connection) reaches the pipeline as the request's abandonment, so the peer
 * sidecar and its app see the cancellation too. Draining keeps the ports open (an app that is shutting down may
 * still call out), sends GOAWAY on HTTP/2 connections and closes HTTP/1.1 ones after their exchange; the ports close
 * at the end.
 */
public final class OutboundServer implements Drainable {
    /** Header bytes an app's request may have (HTTP/1.1 head, or h2c header list); beyond it: {@code headers-too-large}. */
    public static final int MAX_HEADER_BYTES = 8 * 1024;
    private final NettyHttpServer main;
    private final Map<String, NettyHttpServer> upstreams;

    private OutboundServer(NettyHttpServer main, Map<String, NettyHttpServer> upstreams) {
        this.main = main;
        this.upstreams = upstreams;
    }

    /**
     * Binds the main port (which also takes the connections {@code redirects} says where to send) and one port per
     * upstream.
     */
    public static CompletionStage<OutboundServer> bind(EventLoops loops, OutboundPipeline pipeline, Materializer materializer,
            ListenerLimits limits, int port, List<SidecarConfig.Upstream> declared, Redirects redirects) {
        ListenerLimits outbound = limits.on("outbound", MAX_HEADER_BYTES);
        RequestHandler handler = (request, service, abandoned) ->
                pipeline.handle(request, service.isEmpty() ? null : service, abandoned);
        CompletableFuture<NettyHttpServer> main = NettyHttpServer.bind(loops, null, handler, materializer, "", outbound,
                "127.0.0.1", port, redirects).toCompletableFuture();
        List<CompletableFuture<NettyHttpServer>> bound = new ArrayList<>();
        for (SidecarConfig.Upstream upstream : declared) {
            bound.add(NettyHttpServer.bind(loops, null, handler, materializer, upstream.service(), outbound, "127.0.0.1",
                    upstream.port(), null).toCompletableFuture());
        }
        return CompletableFuture.allOf(bound.toArray(CompletableFuture[]::new)).thenCombine(main, (all, mainServer) -> {
            Map<String, NettyHttpServer> byName = new LinkedHashMap<>();
            for (int i = 0; i < declared.size(); i++) {
                byName.put(declared.get(i).service(), bound.get(i).join());
            }
            return new OutboundServer(mainServer, byName);
        });
    }

    /** The main outbound port. */
    public int port() {
        return main.port();
    }

    /** The port of the upstream listener for {@code service}. */
    public int upstreamPort(String service) {
        return upstreams.get(service).port();
    }

    /** Nothing: the app may call out until the drain ends. */
    @Override
    public CompletionStage<Void> stopAccepting() {
        return CompletableFuture.completedFuture(null);
    }

    /** Lets in-flight requests finish (until {@code deadline}), then closes the ports. */
    @Override
    public CompletionStage<Void> drain(Duration deadline) {
        List<CompletableFuture<?>> drained = new ArrayList<>();
        drained.add(drainAndClose(main, deadline));
        upstreams.values().forEach(server -> drained.add(drainAndClose(server, deadline)));
        return CompletableFuture.allOf(drained.toArray(CompletableFuture[]::new));
    }

    private static CompletableFuture<Void> drainAndClose(NettyHttpServer server, Duration deadline) {
        return server.drain(deadline).thenCompose(v -> server.stopAccepting()).toCompletableFuture();
    }
}
