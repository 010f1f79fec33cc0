package io.trellis.sidecar.transport.netty;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/** What a Netty HTTP server hands each request to: the pipeline. */
@FunctionalInterface
public interface RequestHandler {
    /**
     * The response to {@code request}; {@code abandoned} completes when the caller went away before the response
     * ended (its stream reset, its connection closed).
     *
     * @param service the service the connection is for: the listener's (a declared upstream port), the one a redirected
     *     connection's original destination named, or {@code ""} to route by the request's authority
     */
    CompletionStage<HttpResponse> handle(HttpRequest request, String service, CompletableFuture<Void> abandoned);
}
