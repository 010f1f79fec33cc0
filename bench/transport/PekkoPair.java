import com.typesafe.config.ConfigFactory;
import io.trellis.certs.KeyMaterial;
import io.trellis.certs.MeshKeyManager;
import io.trellis.certs.MeshTls;
import io.trellis.certs.MeshTrustManager;
import io.trellis.certs.Pem;
import io.trellis.certs.SpiffeId;
import io.trellis.certs.TrustBundle;
import io.trellis.sidecar.transport.HopByHopHeaders;
import io.trellis.sidecar.transport.Http1Connection;
import io.trellis.sidecar.transport.Http1ConnectionPool;
import io.trellis.sidecar.transport.Http2Connection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.ConnectionContext;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.HttpProtocols;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.japi.function.Function;
import org.apache.pekko.stream.Materializer;

/**
 * The transport experiment's Pekko HTTP candidate (docs/architecture.md): the same two hops as
 * {@code NettyPair}, on the sidecar's own Pekko HTTP transport classes and its Pekko settings, with no pipeline
 * stages, so that it measures the engine alone. Usage: {@code PekkoPair client DIR PORT PEER_PORT},
 * {@code PekkoPair server DIR PORT APP_PORT [h1|h2c]} (certificates from {@code NettyPair init DIR}).
 */
public final class PekkoPair {
    private static final String TRUST_DOMAIN = "cluster.local";
    private static final SpiffeId SERVER = SpiffeId.forWorkload(TRUST_DOMAIN, "default", "backend");

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[1]);
        int port = Integer.parseInt(args[2]);
        int target = Integer.parseInt(args[3]);
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "pair",
                ConfigFactory.parseResources(PekkoPair.class.getClassLoader(), "trellis-sidecar.conf")
                        .withFallback(ConfigFactory.load()));
        Materializer materializer = Materializer.matFromSystem(system);
        Http http = Http.get(system);
        TrustBundle bundle = new TrustBundle(TRUST_DOMAIN, Pem.decodeCertificates(Files.readString(dir.resolve("ca.pem"))));
        if (args[0].equals("client")) {
            SSLContext tls = MeshTls.context(load(dir, "client"), MeshTrustManager.expectingServer(() -> bundle, Clock.systemUTC(), SERVER));
            Reopening peer = new Reopening(() -> Http2Connection.open("peer", http.connectionTo("127.0.0.1").toPort(target)
                    .withCustomHttpsConnectionContext(ConnectionContext.httpsClient((host, p) -> {
                        SSLEngine engine = tls.createSSLEngine(host, p);
                        engine.setUseClientMode(true);
                        engine.setEnabledProtocols(new String[] {"TLSv1.3"});
                        return engine;
                    })).http2(), 1024, materializer));
            http.newServerAt("127.0.0.1", port).bind((Function<HttpRequest, CompletionStage<HttpResponse>>) request ->
                    peer.get().send(HopByHopHeaders.strip(request).withUri(request.getUri().toRelative()))
                            .thenApply(response -> HopByHopHeaders.strip(response).withProtocol(request.protocol())))
                    .toCompletableFuture().join();
        } else {
            SSLContext tls = MeshTls.context(load(dir, "server"), MeshTrustManager.anyIdentity(() -> bundle, Clock.systemUTC()));
            boolean h2c = args.length > 4 && args[4].equals("h2c");
            Reopening appH2c = new Reopening(() -> Http2Connection.open("app",
                    http.connectionTo("127.0.0.1").toPort(target).http2WithPriorKnowledge(), 1024, materializer));
            Http1ConnectionPool app = new Http1ConnectionPool(() -> Http1Connection.open("app",
                    http.connectionTo("127.0.0.1").toPort(target).http(), materializer));
            http.newServerAt("127.0.0.1", port).enableHttps(ConnectionContext.httpsServer(() -> {
                SSLEngine engine = tls.createSSLEngine();
                engine.setUseClientMode(false);
                engine.setNeedClientAuth(true);
                engine.setEnabledProtocols(new String[] {"TLSv1.3"});
                return engine;
            })).bind((Function<HttpRequest, CompletionStage<HttpResponse>>) request -> {
                HttpRequest out = HopByHopHeaders.strip(request).withUri(request.getUri().toRelative());
                // An absolute URI is how Pekko's HTTP/2 client is told :scheme and :authority (strict apps need both).
                String authority = request.getHeader(org.apache.pekko.http.javadsl.model.headers.Host.class)
                        .map(host -> host.value()).orElse("app");
                CompletionStage<HttpResponse> answer = h2c
                        ? appH2c.get().send(out.withUri(org.apache.pekko.http.javadsl.model.Uri.create(
                                "http://" + authority + out.getUri().toString())))
                        : app.send(out.withProtocol(HttpProtocols.HTTP_1_1), new CompletableFuture<>());
                return answer.thenApply(response -> HopByHopHeaders.strip(response));
            }).toCompletableFuture().join();
        }
        System.out.println("ready " + args[0] + " " + port);
    }

    /** One connection, opened on first use and again once it has ended (as the sidecar's pools do). */
    private static final class Reopening {
        private final java.util.function.Supplier<Http2Connection> opener;
        private Http2Connection current;

        Reopening(java.util.function.Supplier<Http2Connection> opener) {
            this.opener = opener;
        }

        synchronized Http2Connection get() {
            if (current == null || !current.isOpen()) {
                current = opener.get();
            }
            return current;
        }
    }

    private static MeshKeyManager load(Path dir, String name) throws Exception {
        return new MeshKeyManager(new KeyMaterial(Pem.decodePrivateKey(Files.readString(dir.resolve(name + ".key"))),
                Pem.decodeCertificates(Files.readString(dir.resolve(name + ".pem")))));
    }
}
