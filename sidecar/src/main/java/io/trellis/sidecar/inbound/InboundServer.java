package io.trellis.sidecar.inbound;

import io.trellis.sidecar.identity.WorkloadIdentity;
import io.trellis.sidecar.lifecycle.Drainable;
import io.trellis.sidecar.transport.EventLoops;
import io.trellis.sidecar.transport.netty.NettyHttpServer;
import io.trellis.sidecar.transport.netty.ListenerLimits;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.stream.Materializer;

/**
 * The inbound listener, on Netty ({@link NettyHttpServer}): mTLS from other sidecars (HTTP/2, or HTTP/1.1 by
 * ALPN) and, on the same port, plaintext HTTP/1.1 and h2c, told apart by each connection's first bytes. That is
 * what lets the mTLS mode switch between STRICT and PERMISSIVE live with no rebinding: the pipeline answers
 * {@code denied} to a plaintext caller, or to one without a certificate, while the mode is STRICT. Shutdown closes
 * the port first (new connections are refused), then lets in-flight requests finish.
 */
public final class InboundServer implements Drainable {
    /**
     * Header bytes a request may have here: twice what an app may send its own sidecar
     * ({@link io.trellis.sidecar.outbound.OutboundServer#MAX_HEADER_BYTES}), so that what the calling sidecar accepted
     * and then added to is never refused at this hop.
     */
    static final int MAX_HEADER_BYTES = 16 * 1024;
    private final NettyHttpServer server;

    private InboundServer(NettyHttpServer server) {
        this.server = server;
    }

    /** Binds the listener on {@code address:port} (port 0 = any free port). */
    public static CompletionStage<InboundServer> bind(EventLoops loops, WorkloadIdentity identity, InboundPipeline pipeline,
            Materializer materializer, String service, ListenerLimits limits, String address, int port) {
        return NettyHttpServer.bind(loops, identity::inboundContext,
                (request, connectionService, abandoned) -> pipeline.handle(request, request.getAttribute(
                        org.apache.pekko.http.javadsl.model.AttributeKeys.sslSession).isPresent(), abandoned),
                materializer, service, limits.on("inbound", MAX_HEADER_BYTES), address, port, null).thenApply(InboundServer::new);
    }

    /** The port the listener is bound to. */
    public int port() {
        return server.port();
    }

    @Override
    public CompletionStage<Void> stopAccepting() {
        return server.stopAccepting();
    }

    @Override
    public CompletionStage<Void> drain(Duration deadline) {
        return server.drain(deadline);
    }
}
