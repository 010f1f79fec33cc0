package io.trellis.sidecar.admin;

import io.trellis.sidecar.telemetry.ProxyMetrics;
import io.trellis.sidecar.transport.EventLoops;
import io.trellis.sidecar.transport.netty.ListenerLimits;
import io.trellis.sidecar.transport.netty.NettyHttpServer;
import io.trellis.sidecar.transport.netty.RequestHandler;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.stream.Materializer;

/**
 * The read-only admin listener: {@code /healthz/live}, {@code /healthz/ready} (503 with the reason while not
 * ready), {@code /metrics} (Prometheus text) and {@code /app-health/CONTAINER/KIND} (an injected app's own probes,
 * {@link AppProbes}). Nothing here changes state, so it may bind to every interface. Served by the data path's Netty
 * server (plaintext HTTP/1.1 or h2c, with its limits), so that no second HTTP engine starts for it.
 */
public final class AdminServer {
    private static final org.apache.pekko.http.javadsl.model.ContentType PROMETHEUS =
            ContentTypes.parse("text/plain; version=0.0.4; charset=utf-8");

    private final NettyHttpServer server;

    private AdminServer(NettyHttpServer server) {
        this.server = server;
    }

    /** Binds on {@code address:port}, on {@code loops}, within {@code limits}. */
    public static CompletionStage<AdminServer> bind(EventLoops loops, Materializer materializer, ListenerLimits limits,
            Readiness readiness, ProxyMetrics metrics, List<String> appProbes, String address, int port) {
        AppProbes probes = new AppProbes(appProbes);
        RequestHandler handler = (request, service, abandoned) -> {
            request.discardEntityBytes(materializer);
            String path = request.getUri().path();
            if (path.startsWith(AppProbes.PREFIX) && request.method().equals(HttpMethods.GET)) {
                // The kubelet counts 200-399 as success: a 2xx or 3xx is passed on as 200 (a 204 or 304
                // cannot carry the explanation), anything else as it is.
                return probes.ask(path).map(answer -> answer.thenApply(status ->
                        text(status < 400 ? 200 : status, "the app answered " + status + "\n")))
                        .orElseGet(() -> CompletableFuture.completedFuture(text(404, "no probe " + path + "\n")));
            }
            return CompletableFuture.completedFuture(respond(request, readiness, metrics));
        };
        return NettyHttpServer.bind(loops, null, handler, materializer, "admin", limits.on("admin"), address, port, null)
                .thenApply(AdminServer::new);
    }

    /** The bound port. */
    public int port() {
        return server.port();
    }

    /** Closes the listener and its connections. */
    public CompletionStage<?> unbind() {
        return server.close();
    }

    private static HttpResponse respond(HttpRequest request, Readiness readiness, ProxyMetrics metrics) {
        if (!request.method().equals(HttpMethods.GET) && !request.method().equals(HttpMethods.HEAD)) {
            return text(405, "read-only: GET only\n");
        }
        switch (request.getUri().path()) {
            case "/healthz/live":
                return text(200, "live\n");
            case "/healthz/ready":
                Optional<String> reason = readiness.notReadyReason();
                return reason.map(r -> text(503, "not ready: " + r + "\n")).orElseGet(() -> text(200, "ready\n"));
            case "/metrics":
                return HttpResponse.create().withEntity(HttpEntities.create(PROMETHEUS, metrics.scrape().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            default:
                return text(404, "not found; try /healthz/live, /healthz/ready or /metrics\n");
        }
    }

    private static HttpResponse text(int status, String body) {
        return HttpResponse.create().withStatus(StatusCodes.get(status))
                .withEntity(HttpEntities.create(ContentTypes.TEXT_PLAIN_UTF8, body));
    }
}
