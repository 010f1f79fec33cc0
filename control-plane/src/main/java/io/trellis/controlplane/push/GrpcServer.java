package io.trellis.controlplane.push;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.trellis.certs.MeshTls;
import io.trellis.certs.MeshTrustManager;
import io.trellis.controlplane.ca.MeshCertificateAuthority;
import io.trellis.controlplane.registry.ProxyRegistry;
import io.trellis.controlplane.registry.RegistrationPolicy;
import io.trellis.controlplane.token.BootstrapTokens;
import io.trellis.mesh.v1.MeshControlPowerApiHandlerFactory;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.ConnectionContext;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.japi.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The MeshControl listener: Pekko gRPC over HTTP/2 with TLS. Client certificates are requested but not
 * required at the TLS layer, because enrolment ({@code SignCertificate} with a join token) happens
 * before a sidecar has one; {@code Connect} refuses callers without a verified identity. Owns its actor
 * system.
 */
public final class GrpcServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(GrpcServer.class);
    private static final Config PEKKO = ConfigFactory.parseString("""
            pekko.loggers = ["org.apache.pekko.event.slf4j.Slf4jLogger"]
            pekko.logging-filter = "org.apache.pekko.event.slf4j.Slf4jLoggingFilter"
            pekko.loglevel = INFO
            pekko.http.server.enable-http2 = on
            pekko.http.server.parsing.ssl-session-attribute = on
            pekko.http.server.remote-address-attribute = on
            # Connect streams live as long as the sidecar: no idle timeout, HTTP/2 pings keep NATs open.
            pekko.http.server.idle-timeout = infinite
            pekko.http.server.http2.ping-interval = 30s
            pekko.coordinated-shutdown.exit-jvm = off
            pekko.coordinated-shutdown.run-by-jvm-shutdown-hook = off
            """).withFallback(ConfigFactory.load(GrpcServer.class.getClassLoader()));

    private final ActorSystem<Void> system;
    private final ServerBinding binding;
    private final SnapshotPusher pusher;

    /** Binds the listener; blocks until it is bound or fails. */
    public GrpcServer(String host, int port, ServerIdentity identity, MeshCertificateAuthority ca,
            BootstrapTokens tokens, ProxyRegistry registry, RegistrationPolicy registrations, SnapshotPusher pusher,
            Executor blocking, Clock clock) throws Exception {
        this.pusher = pusher;
        this.system = ActorSystem.create(Behaviors.empty(), "trellis-control-plane", PEKKO);
        try {
            MeshControlService service = new MeshControlService(tokens, ca, registry, registrations, pusher,
                    org.apache.pekko.stream.Materializer.createMaterializer(system), blocking, clock);
            Function<HttpRequest, CompletionStage<HttpResponse>> grpc =
                    MeshControlPowerApiHandlerFactory.create(service, system);
            Function<HttpRequest, CompletionStage<HttpResponse>> handler = request -> grpc.apply(PeerIdentity.attach(request));
            SSLContext tls = MeshTls.context(identity.keyManager(), MeshTrustManager.anyIdentity(ca::trustBundle, clock));
            this.binding = Http.get(system).newServerAt(host, port)
                    .enableHttps(ConnectionContext.httpsServer(() -> engine(tls)))
                    .bind(handler)
                    .toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            system.terminate();
            throw e;
        }
        LOG.info("MeshControl gRPC (TLS) listening on {}", binding.localAddress());
    }

    private static SSLEngine engine(SSLContext tls) {
        SSLEngine engine = tls.createSSLEngine();
        engine.setUseClientMode(false);
        engine.setWantClientAuth(true);
        engine.setEnabledProtocols(MeshTls.PROTOCOLS);
        engine.setEnabledCipherSuites(MeshTls.ciphers(engine.getSupportedCipherSuites()));
        return engine;
    }

    /** The bound port. */
    public int port() {
        return binding.localAddress().getPort();
    }

    /** The bound address and port. */
    public java.net.InetSocketAddress localAddress() {
        return binding.localAddress();
    }

    @Override
    public void close() throws Exception {
        pusher.close();
        binding.terminate(Duration.ofSeconds(5)).toCompletableFuture().get(10, TimeUnit.SECONDS);
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
}
