package io.trellis.sidecar.api;

import io.trellis.sidecar.admin.Readiness;
import io.trellis.sidecar.identity.IdentityRotator;
import io.trellis.sidecar.identity.WorkloadIdentity;
import io.trellis.sidecar.kafka.PublishEndpoint;
import io.trellis.sidecar.transport.EventLoops;
import io.trellis.sidecar.transport.netty.ListenerLimits;
import io.trellis.sidecar.transport.netty.NettyHttpServer;
import io.trellis.sidecar.transport.netty.RequestHandler;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.stream.Materializer;

/**
 * The sidecar API for the local app, on 127.0.0.1 only: {@code POST /v1/publish/{topic}} (publish an event to
 * Kafka, see {@link PublishEndpoint}), {@code GET /v1/identity} (who this workload is and until when),
 * {@code POST /v1/identity/renew} (rotate the key and certificate now) and {@code POST /shutdown} (for Jobs: drain
 * and exit once the work is done). Served by the data path's Netty server (plaintext HTTP/1.1 or h2c, with its limits).
 */
public final class LocalApiServer {
    private static final String PUBLISH_PREFIX = "/v1/publish/";
    private final NettyHttpServer server;

    private LocalApiServer(NettyHttpServer server) {
        this.server = server;
    }

    /** Binds on 127.0.0.1:{@code port}, on {@code loops}, within {@code limits}. */
    public static CompletionStage<LocalApiServer> bind(ActorSystem<?> system, EventLoops loops, ListenerLimits limits,
            WorkloadIdentity identity, Readiness readiness, IdentityRotator.RenewTrigger renewals, PublishEndpoint publish, int port) {
        Materializer materializer = Materializer.matFromSystem(system);
        RequestHandler handler = (request, service, abandoned) -> {
            String path = request.getUri().path();
            if (path.startsWith(PUBLISH_PREFIX)) {
                // The topic as the app meant it: percent-decoded, and every segment after the prefix.
                List<String> segments = new ArrayList<>();
                request.getUri().pathSegments().forEach(segments::add);
                return publish.publish(request, String.join("/", segments.subList(Math.min(2, segments.size()), segments.size())));
            }
            request.discardEntityBytes(materializer);
            return CompletableFuture.completedFuture(respond(system, request, identity, readiness, renewals));
        };
        return NettyHttpServer.bind(loops, null, handler, materializer, "api", limits.on("api"), "127.0.0.1", port, null)
                .thenApply(LocalApiServer::new);
    }

    /** The bound port. */
    public int port() {
        return server.port();
    }

    /** Closes the listener and its connections. */
    public CompletionStage<?> unbind() {
        return server.close();
    }

    private static HttpResponse respond(ActorSystem<?> system, HttpRequest request, WorkloadIdentity identity,
            Readiness readiness, IdentityRotator.RenewTrigger renewals) {
        String path = request.getUri().path();
        if (path.equals("/v1/identity") && request.method().equals(HttpMethods.GET)) {
            Instant notAfter = identity.notAfter();
            String serial = identity.current() == null ? null : identity.current().leaf().getSerialNumber().toString(16);
            String body = "{\"spiffeId\":\"" + identity.id() + "\",\"serial\":" + (serial == null ? "null" : "\"" + serial + "\"")
                    + ",\"notAfter\":" + (notAfter == null ? "null" : "\"" + notAfter + "\"") + ",\"ready\":"
                    + readiness.notReadyReason().isEmpty() + "}";
            return HttpResponse.create().withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, body));
        }
        if (path.equals("/v1/identity/renew") && request.method().equals(HttpMethods.POST)) {
            return renewals.renewNow()
                    ? HttpResponse.create().withStatus(StatusCodes.ACCEPTED)
                            .withEntity(HttpEntities.create(ContentTypes.TEXT_PLAIN_UTF8, "renewing the certificate\n"))
                    : HttpResponse.create().withStatus(StatusCodes.SERVICE_UNAVAILABLE)
                            .withEntity(HttpEntities.create(ContentTypes.TEXT_PLAIN_UTF8, "identity rotator not started yet\n"));
        }
        if (path.equals("/shutdown") && request.method().equals(HttpMethods.POST)) {
            CoordinatedShutdown.get(system).runAll(CoordinatedShutdown.unknownReason());
            return HttpResponse.create().withStatus(StatusCodes.ACCEPTED)
                    .withEntity(HttpEntities.create(ContentTypes.TEXT_PLAIN_UTF8, "draining and shutting down\n"));
        }
        return HttpResponse.create().withStatus(StatusCodes.NOT_FOUND)
                .withEntity(HttpEntities.create(ContentTypes.TEXT_PLAIN_UTF8, "not found; try POST /v1/publish/{topic}, GET /v1/identity or POST /shutdown\n"));
    }
}
