package io.trellis.sidecar.inbound;

import io.trellis.certs.MeshTls;
import io.trellis.sidecar.identity.WorkloadIdentity;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import javax.net.ssl.SSLEngine;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.io.Inet;
import org.apache.pekko.io.TcpSO;
import org.apache.pekko.http.javadsl.ConnectionContext;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.japi.function.Function;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.Tcp;
import org.apache.pekko.util.ByteString;

/**
 * The inbound listener. Each connection's first byte says whether it is TLS (a handshake record, 0x16) or
 * plaintext; the connection is then spliced to one of two private loopback servers: mTLS (HTTP/2 and
 * HTTP/1.1 by ALPN) or plaintext (HTTP/1.1 and h2c). This is what lets the mTLS mode switch between STRICT
 * and PERMISSIVE live, on one port, with no rebinding: the plaintext server answers {@code denied} while the
 * mode is STRICT. Shutdown closes the public port first (new connections are refused), then lets the private
 * servers finish in-flight requests.
 */
public final class InboundServer {
    private static final byte TLS_HANDSHAKE = 0x16;
    /** Both legs of the splice forward small frames at once (no Nagle + delayed-ACK stalls). */
    private static final List<Inet.SocketOption> NO_DELAY = List.of(TcpSO.tcpNoDelay(true));

    private final Tcp.ServerBinding front;
    private final ServerBinding tls;
    private final ServerBinding plaintext;

    private InboundServer(Tcp.ServerBinding front, ServerBinding tls, ServerBinding plaintext) {
        this.front = front;
        this.tls = tls;
        this.plaintext = plaintext;
    }

    /** Binds the listener on {@code address:port} (port 0 = any free port). */
    public static CompletionStage<InboundServer> bind(ActorSystem<?> system, WorkloadIdentity identity, InboundPipeline pipeline,
            String address, int port) {
        Http http = Http.get(system);
        CompletionStage<ServerBinding> tls = http.newServerAt("127.0.0.1", 0)
                .enableHttps(ConnectionContext.httpsServer(() -> serverEngine(identity)))
                .bind((Function<HttpRequest, CompletionStage<HttpResponse>>) request -> pipeline.handle(request, true));
        CompletionStage<ServerBinding> plain = http.newServerAt("127.0.0.1", 0)
                .bind((Function<HttpRequest, CompletionStage<HttpResponse>>) request -> pipeline.handle(request, false));
        Materializer materializer = Materializer.matFromSystem(system);
        return tls.thenCompose(tlsBinding -> plain.thenCompose(plainBinding -> {
            Flow<ByteString, ByteString, NotUsed> splice = splice(system, tlsBinding.localAddress(), plainBinding.localAddress());
            return Tcp.get(system).bind(address, port, 1024, NO_DELAY, false, Optional.empty())
                    .to(Sink.foreach(connection -> connection.handleWith(splice, materializer)))
                    .run(materializer)
                    .thenApply(front -> new InboundServer(front, tlsBinding, plainBinding));
        }));
    }

    /** The port the public listener is bound to. */
    public int port() {
        return front.localAddress().getPort();
    }

    /** Stops accepting connections; open connections keep going. */
    public CompletionStage<Void> stopAccepting() {
        return front.unbind().thenApply(done -> null);
    }

    /** Ends every connection once its in-flight requests finished, or at {@code deadline}. */
    public CompletionStage<Void> drain(Duration deadline) {
        return CompletableFuture.allOf(tls.terminate(deadline).toCompletableFuture(),
                plaintext.terminate(deadline).toCompletableFuture());
    }

    private static SSLEngine serverEngine(WorkloadIdentity identity) {
        SSLEngine engine = identity.serverContext().createSSLEngine();
        engine.setUseClientMode(false);
        // "want", not "need": a caller without a certificate gets a readable `denied` response instead of a
        // bare handshake alert. The request is refused either way.
        engine.setWantClientAuth(true);
        engine.setEnabledProtocols(MeshTls.PROTOCOLS);
        return engine;
    }

    private static Flow<ByteString, ByteString, NotUsed> splice(ActorSystem<?> system, InetSocketAddress tls,
            InetSocketAddress plaintext) {
        Tcp tcp = Tcp.get(system);
        return Flow.<ByteString>create()
                .prefixAndTail(1)
                .flatMapConcat(split -> {
                    if (split.first().isEmpty()) {
                        return Source.<ByteString>empty();
                    }
                    ByteString first = split.first().get(0);
                    InetSocketAddress target = first.apply(0) == TLS_HANDSHAKE ? tls : plaintext;
                    return Source.single(first).concat(split.second())
                            .via(tcp.outgoingConnection(target, Optional.empty(), NO_DELAY, true, Optional.empty(),
                                    Optional.empty()));
                });
    }
}
