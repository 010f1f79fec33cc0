package io.trellis.sidecar.outbound;

import io.trellis.sidecar.SidecarConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.japi.function.Function;

/**
 * The app-facing listeners on 127.0.0.1 (HTTP/1.1 and h2c with prior knowledge): the main outbound port, which
 * routes by authority or absolute-form URI (so {@code HTTP_PROXY} works), and one port per declared upstream
 * that routes everything to its service.
 */
public final class OutboundServer {
    private final ServerBinding main;
    private final Map<String, ServerBinding> upstreams;

    private OutboundServer(ServerBinding main, Map<String, ServerBinding> upstreams) {
        this.main = main;
        this.upstreams = upstreams;
    }

    /** Binds the main port and one port per upstream. */
    public static CompletionStage<OutboundServer> bind(ActorSystem<?> system, OutboundPipeline pipeline, int port,
            List<SidecarConfig.Upstream> declared) {
        Http http = Http.get(system);
        CompletableFuture<ServerBinding> main = http.newServerAt("127.0.0.1", port)
                .bind((Function<HttpRequest, CompletionStage<HttpResponse>>) request -> pipeline.handle(request, null))
                .toCompletableFuture();
        List<CompletableFuture<ServerBinding>> bound = new ArrayList<>();
        for (SidecarConfig.Upstream upstream : declared) {
            bound.add(http.newServerAt("127.0.0.1", upstream.port())
                    .bind((Function<HttpRequest, CompletionStage<HttpResponse>>) request -> pipeline.handle(request, upstream.service()))
                    .toCompletableFuture());
        }
        return CompletableFuture.allOf(bound.toArray(CompletableFuture[]::new)).thenCombine(main, (all, mainBinding) -> {
            Map<String, ServerBinding> byName = new LinkedHashMap<>();
            for (int i = 0; i < declared.size(); i++) {
                byName.put(declared.get(i).service(), bound.get(i).join());
            }
            return new OutboundServer(mainBinding, byName);
        });
    }

    /** The main outbound port. */
    public int port() {
        return main.localAddress().getPort();
    }

    /** The port of the upstream listener for {@code service}. */
    public int upstreamPort(String service) {
        return upstreams.get(service).localAddress().getPort();
    }

    /** Ends every app connection once its in-flight requests finished, or at {@code deadline}. */
    public CompletionStage<Void> drain(Duration deadline) {
        List<CompletableFuture<?>> terminated = new ArrayList<>();
        terminated.add(main.terminate(deadline).toCompletableFuture());
        upstreams.values().forEach(binding -> terminated.add(binding.terminate(deadline).toCompletableFuture()));
        return CompletableFuture.allOf(terminated.toArray(CompletableFuture[]::new));
    }
}
