package io.trellis.sidecar;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.trellis.certs.KeyMaterial;
import io.trellis.certs.Pem;
import io.trellis.certs.PeerCertificateVerifier;
import io.trellis.certs.ReadyFile;
import io.trellis.certs.SpiffeId;
import io.trellis.certs.TrustBundle;
import io.trellis.mesh.v1.Hello;
import io.trellis.mesh.v1.Snapshot;
import io.trellis.sidecar.admin.AdminServer;
import io.trellis.sidecar.admin.Readiness;
import io.trellis.sidecar.api.LocalApiServer;
import io.trellis.sidecar.config.Backoff;
import io.trellis.sidecar.config.ControlPlaneSession;
import io.trellis.sidecar.config.InvalidSnapshotException;
import io.trellis.sidecar.config.RoutingTableRef;
import io.trellis.sidecar.config.ServiceName;
import io.trellis.sidecar.config.SnapshotTranslator;
import io.trellis.sidecar.identity.ControlPlaneChannel;
import io.trellis.sidecar.identity.IdentityRotator;
import io.trellis.sidecar.identity.StateDirectory;
import io.trellis.sidecar.identity.WorkloadIdentity;
import io.trellis.sidecar.inbound.InboundPipeline;
import io.trellis.sidecar.inbound.InboundServer;
import io.trellis.sidecar.inbound.PathCase;
import io.trellis.sidecar.kafka.KafkaBridge;
import io.trellis.sidecar.lifecycle.Drainer;
import io.trellis.sidecar.outbound.OutboundPipeline;
import io.trellis.sidecar.outbound.OutboundServer;
import io.trellis.sidecar.outbound.RedirectedConnections;
import io.trellis.sidecar.tcp.TcpUpstreams;
import io.trellis.sidecar.tcp.TunnelServer;
import io.trellis.sidecar.transport.EventLoops;
import io.trellis.sidecar.transport.netty.AppClient;
import io.trellis.sidecar.transport.netty.ListenerLimits;
import io.trellis.sidecar.transport.netty.UnderscoreHeaders;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.Materializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running sidecar: assembles identity, config, the two pipelines and the listeners, in this order:
 * state from the state directory (key, certificate and last snapshot, so it serves even while the control
 * plane is down) while the actor system boots beside it, the identity rotator (enrolment runs while the rest comes
 * up), the listeners, then the control-plane session once they are bound. {@link #close} drains like SIGTERM does.
 */
public final class Sidecar implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Sidecar.class);
    private static final Duration BIND_TIMEOUT = Duration.ofSeconds(30);

    private final ActorSystem<Void> system;
    private final InboundServer inbound;
    private final OutboundServer outbound;
    private final TunnelServer tunnel;
    private final TcpUpstreams tcpUpstreams;
    private final AdminServer admin;
    private final LocalApiServer api;
    private final WorkloadIdentity identity;
    private final Readiness readiness;

    private Sidecar(ActorSystem<Void> system, InboundServer inbound, OutboundServer outbound, TunnelServer tunnel,
            TcpUpstreams tcpUpstreams, AdminServer admin, LocalApiServer api, WorkloadIdentity identity, Readiness readiness) {
        this.system = system;
        this.inbound = inbound;
        this.outbound = outbound;
        this.tunnel = tunnel;
        this.tcpUpstreams = tcpUpstreams;
        this.admin = admin;
        this.api = api;
        this.identity = identity;
        this.readiness = readiness;
    }

    /** Starts a sidecar; returns once every listener is bound. */
    public static Sidecar start(SidecarConfig config, Clock clock) throws IOException, GeneralSecurityException {
        // The actor system takes most of a second to boot (its configuration, dispatchers, extensions): it boots on a
        // thread of its own while this one restores the state and starts the event loops (issue 13, start-up).
        CompletableFuture<ActorSystem<Void>> booting = CompletableFuture.supplyAsync(
                () -> ActorSystem.create(Behaviors.empty(), "trellis-sidecar", pekkoConfig(config)), Sidecar::bootThread);
        try {
            return assemble(booting, config, clock);
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            booting.thenAccept(ActorSystem::terminate);
            throw e;
        }
    }

    private static void bootThread(Runnable boot) {
        Thread thread = new Thread(boot, "trellis-sidecar-boot");
        thread.setDaemon(true);
        thread.start();
    }

    private static ActorSystem<Void> booted(CompletableFuture<ActorSystem<Void>> booting) {
        try {
            return booting.join();
        } catch (java.util.concurrent.CompletionException e) {
            throw e.getCause() instanceof RuntimeException failure ? failure : e;
        }
    }

    private static Sidecar assemble(CompletableFuture<ActorSystem<Void>> booting, SidecarConfig config, Clock clock)
            throws IOException, GeneralSecurityException {
        SpiffeId self = config.identity();
        ProxyMetrics metrics = new ProxyMetrics();
        StateDirectory state = new StateDirectory(config.stateDir());
        WorkloadIdentity identity = new WorkloadIdentity(self, initialTrustBundle(config, state), clock, metrics);
        restoreIdentity(state, identity, clock);
        RoutingTableRef tables = new RoutingTableRef();
        SnapshotTranslator translator = new SnapshotTranslator(self);
        restoreSnapshot(state, translator, tables, identity, metrics);
        Readiness readiness = new Readiness(identity, tables);
        ReadyFile readyFile = ReadyFile.at(config.readyFile());

        // The Netty event loops of the data path (docs/architecture.md: the transport decision).
        EventLoops loops = EventLoops.start(Math.min(2, Runtime.getRuntime().availableProcessors()));
        ActorSystem<Void> system = booted(booting);

        // One thread: state-directory writes must land in the order they were made (a later snapshot must never
        // be overwritten by an earlier one), and key generation is rare enough to share it.
        ExecutorService blocking = Executors.newSingleThreadExecutor(runnable -> {
            Thread thread = new Thread(runnable, "trellis-sidecar-io");
            thread.setDaemon(true);
            return thread;
        });
        // Stopped after the actors, not with the listeners: the control-plane session may still receive (and save) a
        // snapshot while the sidecar drains, and a write refused by a stopped executor failed the session.
        system.getWhenTerminated().thenRun(blocking::shutdown);

        OutboundPipeline outboundPipeline = new OutboundPipeline(system, identity, tables, metrics, loops, config.namespace());
        Materializer materializer = Materializer.matFromSystem(system);
        // One client of the app: the inbound pipeline's requests and the Kafka deliveries share its connections.
        AppClient app = new AppClient(loops, config.appPort(), materializer);
        InboundPipeline inboundPipeline = new InboundPipeline(system, identity, tables, metrics, app,
                new ServiceName(config.service(), config.namespace()), config.appPort(), config.appProtocol(), PathCase.of(config.pathCase()));
        ListenerLimits limits = ListenerLimits.of(UnderscoreHeaders.of(config.headersWithUnderscores()),
                config.maxConnections(), (direction, limit) -> metrics.limitHit(direction, limit.label()));
        InboundServer inbound = await(InboundServer.bind(loops, identity, inboundPipeline, materializer, config.service(),
                limits, config.bindAddress(), config.inboundPort()), "inbound listener on " + config.bindAddress() + ":" + config.inboundPort()
                + " (--inbound-port)");
        TcpUpstreams tcpUpstreams = await(TcpUpstreams.bind(loops, identity, tables, metrics, config.namespace(),
                config.declaredUpstreams()), "TCP upstream listeners on 127.0.0.1 (the --upstream .../tcp ports)");
        OutboundServer outbound = await(OutboundServer.bind(loops, outboundPipeline, materializer, limits, config.outboundPort(),
                config.declaredUpstreams().stream().filter(upstream -> !upstream.tcp()).toList(),
                new RedirectedConnections(tables, config.namespace(), tcpUpstreams)), "outbound listeners on 127.0.0.1 (--outbound-port "
                + config.outboundPort() + " and the --upstream HTTP ports)");
        TunnelServer tunnel = await(TunnelServer.bind(loops, identity, tables, metrics, config.service(), config.bindAddress(),
                config.tunnelPort()), "tunnel listener on " + config.bindAddress() + ":" + config.tunnelPort()
                + " (--tunnel-port)");
        // Enrolment (key, CSR, certificate) runs while the admin, Kafka and API parts come up (the slower half); it
        // waits for the data-path listeners, so that a port another process holds fails the start before a
        // single-use join token is spent. The session starts once a certificate and every listener are there.
        ControlPlaneChannel channel = new ControlPlaneChannel(config.controlPlaneHost(), config.controlPlanePort(), identity,
                clock, system);
        Backoff backoff = new Backoff(Duration.ofMillis(500), Duration.ofSeconds(30), () -> ThreadLocalRandom.current().nextDouble());
        IdentityRotator.RenewTrigger renewals = new IdentityRotator.RenewTrigger();
        ActorRef<Guardian.Command> guardian = system.systemActorOf(Guardian.create(
                issued -> IdentityRotator.create(identity, state, channel, config.tokenFile(), clock, backoff, blocking, issued,
                        renewals),
                hello -> ControlPlaneSession.create(channel, hello, translator, tables, identity, state, metrics, backoff, blocking)),
                "guardian", Props.empty());
        // The admin and API listeners, on the same Netty server as the data path.
        CompletionStage<AdminServer> adminBinding = AdminServer.bind(loops, materializer, limits, readiness, metrics,
                config.appProbes(), config.adminAddress(), config.adminPort());
        KafkaBridge kafka = KafkaBridge.start(system, self, config.service(), app, config.appPort(), config.kafkaBootstrap(), tables,
                metrics, clock);
        CompletionStage<LocalApiServer> apiBinding = LocalApiServer.bind(system, loops, limits, identity, readiness, renewals,
                kafka.publishEndpoint(), config.apiPort());
        AdminServer admin = await(adminBinding,
                "admin listener on " + config.adminAddress() + ":" + config.adminPort() + " (--admin-port)");
        LocalApiServer api = await(apiBinding, "API listener on 127.0.0.1:" + config.apiPort() + " (--api-port)");

        Drainer.register(system, readiness, inbound, outbound, List.of(tunnel, tcpUpstreams), config.drainTimeout(),
                () -> kafka.drain(config.drainTimeout()), () -> {
                    readyFile.withdraw();
                    outboundPipeline.close();
                    app.close();
                    return CompletableFuture.allOf(admin.unbind().toCompletableFuture(), api.unbind().toCompletableFuture(),
                            kafka.close().toCompletableFuture(), loops.stop().toCompletableFuture());
                });

        Hello hello = Hello.newBuilder()
                .setNodeId(config.podName() != null ? config.podName() + "." + config.namespace()
                        : config.service() + "-" + UUID.randomUUID().toString().substring(0, 8))
                .setService(config.service())
                .setNamespace(config.namespace())
                .setAddress(advertisedAddress(config.bindAddress()))
                .setInboundPort(inbound.port())
                .setTunnelPort(tunnel.port())
                .putAllLabels(config.labelMap())
                .setProxyVersion(Sidecar.class.getPackage().getImplementationVersion() == null ? "dev"
                        : Sidecar.class.getPackage().getImplementationVersion())
                .build();
        guardian.tell(new Guardian.ListenersBound(hello));
        Sidecar sidecar = new Sidecar(system, inbound, outbound, tunnel, tcpUpstreams, admin, api, identity, readiness);
        sidecar.logListeners(config);
        readiness.whenReady().thenRun(() -> {
            LOG.info("sidecar for {} ready in {} ms (since the JVM started)", self, ManagementFactory.getRuntimeMXBean().getUptime());
            readyFile.announce("inbound=" + config.bindAddress() + ":" + inbound.port() + "\noutbound=127.0.0.1:" + outbound.port()
                    + "\ntunnel=" + config.bindAddress() + ":" + tunnel.port() + "\nadmin=" + config.adminAddress() + ":"
                    + admin.port() + "\napi=127.0.0.1:" + api.port() + "\n");
        });
        return sidecar;
    }

    /** One line per listener, as bound. */
    private void logListeners(SidecarConfig config) {
        LOG.info("inbound (mTLS, from other sidecars) listening on {}:{}", config.bindAddress(), inboundPort());
        LOG.info("tunnel (mTLS, opaque TCP from other sidecars) listening on {}:{}", config.bindAddress(), tunnelPort());
        LOG.info("outbound (from the app; Host or HTTP_PROXY) listening on 127.0.0.1:{}", outboundPort());
        for (SidecarConfig.Upstream upstream : config.declaredUpstreams()) {
            LOG.info("upstream {} ({}) listening on 127.0.0.1:{}", upstream.key(), upstream.tcp() ? "opaque TCP" : "HTTP",
                    upstreamPort(upstream.key()));
        }
        LOG.info("admin (health, metrics) listening on {}:{}", config.adminAddress(), adminPort());
        LOG.info("local API (publish, identity) listening on 127.0.0.1:{}", apiPort());
    }

    /** The inbound (mTLS) port. */
    public int inboundPort() {
        return inbound.port();
    }

    /** The main outbound port. */
    public int outboundPort() {
        return outbound.port();
    }

    /** The port of the listener declared as {@code --upstream NAME=PORT} (HTTP) or {@code NAME[:PORT]=PORT/tcp}, by NAME[:PORT]. */
    public int upstreamPort(String service) {
        return tcpUpstreams.port(service).orElseGet(() -> outbound.upstreamPort(service));
    }

    /** The opaque-TCP tunnel port. */
    public int tunnelPort() {
        return tunnel.port();
    }

    /** The admin port. */
    public int adminPort() {
        return admin.port();
    }

    /** The local API port. */
    public int apiPort() {
        return api.port();
    }

    /** Whether the sidecar is ready for traffic. */
    public boolean isReady() {
        return readiness.notReadyReason().isEmpty();
    }

    /** The identity as the TLS layers see it. */
    public WorkloadIdentity identity() {
        return identity;
    }

    /** Completes when the sidecar has shut down (after SIGTERM, {@code POST /shutdown} or {@link #close}). */
    public CompletableFuture<Void> whenTerminated() {
        return system.getWhenTerminated().toCompletableFuture().thenApply(done -> null);
    }

    /** Drains and stops, as on SIGTERM; returns when done. */
    @Override
    public void close() {
        CoordinatedShutdown.get(system).runAll(CoordinatedShutdown.unknownReason());
        whenTerminated().orTimeout(2, TimeUnit.MINUTES).join();
    }

    private static Config pekkoConfig(SidecarConfig config) {
        long phaseMillis = config.drainTimeout().toMillis() + 5_000;
        return ConfigFactory.parseString(
                        "pekko.coordinated-shutdown.phases.service-requests-done.timeout = " + phaseMillis + "ms")
                .withFallback(ConfigFactory.parseResources(Sidecar.class.getClassLoader(), "trellis-sidecar.conf"))
                .withFallback(ConfigFactory.load(Sidecar.class.getClassLoader()));
    }

    /** The roots from --ca-bundle plus any saved from an earlier run (a CA rotation may have added some). */
    private static TrustBundle initialTrustBundle(SidecarConfig config, StateDirectory state) throws IOException {
        List<X509Certificate> roots = new ArrayList<>();
        try {
            roots.addAll(Pem.decodeCertificates(Files.readString(config.caBundle())));
            Optional<String> saved = state.loadTrustBundle();
            if (saved.isPresent()) {
                roots.addAll(Pem.decodeCertificates(saved.get()));
            }
        } catch (java.security.cert.CertificateException e) {
            throw new IllegalArgumentException("--ca-bundle " + config.caBundle() + ": not PEM certificates (" + e.getMessage() + ")", e);
        }
        return new TrustBundle(config.trustDomain(), roots);
    }

    /** Installs the saved key and certificate when they are still valid for this identity. */
    private static void restoreIdentity(StateDirectory state, WorkloadIdentity identity, Clock clock) throws IOException {
        Optional<KeyMaterial> saved = state.loadIdentity();
        if (saved.isEmpty()) {
            return;
        }
        try {
            SpiffeId id = PeerCertificateVerifier.verify(saved.get().chain(), identity.trustBundle(),
                    PeerCertificateVerifier.PeerRole.CLIENT, clock.instant());
            if (id.equals(identity.id())) {
                identity.install(saved.get());
                LOG.info("reusing the saved certificate for {} (expires {})", id, saved.get().notAfter());
            }
        } catch (java.security.cert.CertificateException e) {
            LOG.info("the saved certificate cannot be reused ({}); enrolling again", e.getMessage());
        }
    }

    /** Applies the last accepted snapshot, so the sidecar serves before (or without) the control plane. */
    private static void restoreSnapshot(StateDirectory state, SnapshotTranslator translator, RoutingTableRef tables,
            WorkloadIdentity identity, ProxyMetrics metrics) throws IOException {
        Optional<byte[]> saved = state.loadSnapshot();
        if (saved.isEmpty()) {
            return;
        }
        try {
            var table = translator.translate(Snapshot.parseFrom(saved.get()));
            identity.updateTrustBundle(table.trustBundle());
            tables.publish(table);
            metrics.configApplied(table.version());
            LOG.info("serving the saved snapshot {} until the control plane answers", table.version());
        } catch (InvalidSnapshotException | com.google.protobuf.InvalidProtocolBufferException e) {
            LOG.warn("ignoring the saved snapshot: {}", e.getMessage());
        }
    }

    private static String advertisedAddress(String bindAddress) throws IOException {
        return bindAddress.equals("0.0.0.0") || bindAddress.equals("::") ? InetAddress.getLocalHost().getHostAddress() : bindAddress;
    }

    /** A listener could not be bound; the message names it, its flag and why. */
    static final class ListenerBindException extends IOException {
        ListenerBindException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private static <T> T await(java.util.concurrent.CompletionStage<T> stage, String what) throws IOException {
        try {
            return stage.toCompletableFuture().get(BIND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while binding the " + what, e);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new ListenerBindException("cannot bind the " + what + ": " + cause.getMessage(), cause);
        }
    }
}
