package io.trellis.controlplane;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.micronaut.context.annotation.Bean;
import io.micronaut.context.annotation.Context;
import io.micronaut.context.annotation.Factory;
import io.micronaut.context.annotation.Requires;
import io.trellis.certs.OwnerOnlyFiles;
import io.trellis.controlplane.ca.CaRotationCoordinator;
import io.trellis.controlplane.ca.MeshCertificateAuthority;
import io.trellis.controlplane.inject.AdmissionWebhook;
import io.trellis.controlplane.inject.InjectorSettings;
import io.trellis.controlplane.inject.PodInjector;
import io.trellis.controlplane.kubernetes.ApiServer;
import io.trellis.controlplane.kubernetes.KubernetesApi;
import io.trellis.controlplane.kubernetes.KubernetesServices;
import io.trellis.controlplane.kubernetes.KubernetesSettings;
import io.trellis.controlplane.registry.ClusterServices;
import io.trellis.controlplane.push.GrpcServer;
import io.trellis.controlplane.push.ServerIdentity;
import io.trellis.controlplane.push.SnapshotPusher;
import io.trellis.controlplane.registry.ProxyInstance;
import io.trellis.controlplane.registry.ProxyRegistry;
import io.trellis.controlplane.registry.RegistrationPolicy;
import io.trellis.controlplane.registry.RegistryFile;
import io.trellis.controlplane.resource.ResourceCodec;
import io.trellis.controlplane.store.FileChangeLog;
import io.trellis.controlplane.store.LogCodec;
import io.trellis.controlplane.store.PolicyStore;
import io.trellis.controlplane.token.AdminToken;
import io.trellis.controlplane.token.BootstrapTokens;
import io.trellis.controlplane.token.ServiceAccountTokens;
import io.trellis.controlplane.token.JoinTokenAuthenticator;
import io.trellis.controlplane.token.ViewerTokens;
import jakarta.inject.Named;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Assembles the control plane: one place that shows what is built from what. */
@Factory
final class ControlPlaneFactory {
    private static final Logger LOG = LoggerFactory.getLogger(ControlPlaneFactory.class);
    private static final Duration RECOVERY_GRACE = Duration.ofSeconds(60);

    @Singleton
    Clock clock() {
        return Clock.systemUTC();
    }

    @Singleton
    ResourceCodec resourceCodec() {
        return new ResourceCodec();
    }

    @Singleton
    @Bean(preDestroy = "close")
    PolicyStore policyStore(ControlPlaneConfig config, ResourceCodec codec, Clock clock) throws IOException {
        // The data directory holds CA keys and the admin token: owner-only from the start.
        OwnerOnlyFiles.createDirectories(config.dataDir());
        return new PolicyStore(new FileChangeLog(config.dataDir().resolve("store"), new LogCodec(codec),
                config.compactAfterEntries()), clock);
    }

    @Singleton
    MeshCertificateAuthority certificateAuthority(PolicyStore store, ControlPlaneConfig config, Clock clock) {
        return MeshCertificateAuthority.open(store, config.dataDir(), config.caDir(), clock);
    }

    /**
     * The registry, seeded with the previous run's instances for {@link #RECOVERY_GRACE} (twice the sidecars'
     * longest reconnect backoff), and saved on every membership change.
     */
    @Singleton
    ProxyRegistry proxyRegistry(ControlPlaneConfig config, Clock clock) throws IOException {
        ProxyRegistry registry = new ProxyRegistry();
        // One thread, so saves land in the order of the changes.
        ExecutorService writes = Executors.newSingleThreadExecutor(r -> daemon(r, "trellis-registry-file"));
        RegistryFile file = new RegistryFile(config.dataDir().resolve("registry.json"));
        List<ProxyInstance> previous = file.load();
        registry.recover(previous, clock.instant().plus(RECOVERY_GRACE));
        if (!previous.isEmpty()) {
            LOG.info("registry: {} instances from the previous run kept for {} s or until they reconnect", previous.size(),
                    RECOVERY_GRACE.toSeconds());
        }
        registry.onMembershipChange(() -> writes.execute(() -> {
            try {
                file.save(registry.instances());
            } catch (IOException e) {
                LOG.warn("could not save the registry to {}: {}", config.dataDir().resolve("registry.json"), e.toString());
            }
        }));
        return registry;
    }

    @Singleton
    @Requires(property = "trellis.injector.enabled", value = "true")
    AdmissionWebhook admissionWebhook(InjectorSettings settings) {
        ObjectMapper mapper = PodInjector.newMapper();
        return new AdmissionWebhook(new PodInjector(settings, mapper), mapper);
    }

    @Singleton
    JoinTokenAuthenticator joinTokens(PolicyStore store, Clock clock) {
        return new JoinTokenAuthenticator(store, clock);
    }

    @Singleton
    ViewerTokens viewerTokens(PolicyStore store, Clock clock) {
        return new ViewerTokens(store, clock);
    }

    /** Eager, so the token file exists as soon as the control plane is up. */
    @Context
    AdminToken adminToken(ControlPlaneConfig config) throws IOException {
        return AdminToken.loadOrGenerate(config.effectiveAdminTokenFile());
    }

    @Singleton
    ServerIdentity serverIdentity(MeshCertificateAuthority ca, ControlPlaneConfig config, Clock clock) {
        return new ServerIdentity(ca, config.serverNames(), clock);
    }

    @Singleton
    CaRotationCoordinator caRotation(MeshCertificateAuthority ca, ProxyRegistry registry, PolicyStore store, Clock clock) {
        return new CaRotationCoordinator(ca, registry, clock, () -> store.state().meshConfig().certificateTtl());
    }

    @Singleton
    ApiServer apiServer(KubernetesSettings kubernetes) throws Exception {
        KubernetesApi api = KubernetesApi.from(kubernetes, System.getenv());
        if (api != null) {
            LOG.info("Kubernetes API server: {} (token reviews, services)", api.base());
        }
        return new ApiServer(api);
    }

    /** The cluster's Services and their endpoints, followed when there is an API server. */
    @Singleton
    @Bean(preDestroy = "close")
    ClusterServicesBean clusterServices(ApiServer apiServer) {
        return new ClusterServicesBean(apiServer.api().map(KubernetesServices::new).orElse(null));
    }

    @Singleton
    SnapshotPusher snapshotPusher(PolicyStore store, ProxyRegistry registry, MeshCertificateAuthority ca,
            ClusterServicesBean services, ControlPlaneConfig config, Clock clock) {
        return new SnapshotPusher(store, registry, ca, services.services(),
                Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "trellis-snapshot-push")),
                config.pushDebounce(), clock);
    }

    /** Store writes from gRPC calls (fsync) run here, off the stream threads. */
    @Singleton
    @Named("store-writes")
    @Bean(preDestroy = "shutdown")
    ExecutorService storeWrites() {
        return Executors.newFixedThreadPool(4, r -> daemon(r, "trellis-blocking"));
    }

    @Singleton
    BootstrapTokens bootstrapTokens(JoinTokenAuthenticator joinTokens, ApiServer apiServer, KubernetesSettings kubernetes,
            PolicyStore store) {
        ServiceAccountTokens serviceAccounts = apiServer.api().map(api -> new ServiceAccountTokens(api,
                kubernetes.audience(), () -> store.state().meshConfig().trustDomain())).orElse(null);
        return new BootstrapTokens(joinTokens, serviceAccounts);
    }

    /** The watcher behind {@link ClusterServices}, or none: a bean that can be closed either way. */
    record ClusterServicesBean(KubernetesServices watcher) implements AutoCloseable {
        ClusterServices services() {
            return watcher != null ? watcher : ClusterServices.NONE;
        }

        @Override
        public void close() {
            if (watcher != null) {
                watcher.close();
            }
        }
    }

    @Context
    @Bean(preDestroy = "close")
    GrpcServer grpcServer(ControlPlaneConfig config, ServerIdentity identity, MeshCertificateAuthority ca,
            BootstrapTokens tokens, ProxyRegistry registry, PolicyStore store, SnapshotPusher pusher,
            @Named("store-writes") ExecutorService blocking, Clock clock) throws Exception {
        RegistrationPolicy registrations = new RegistrationPolicy(store::state, config.trustAnnouncedAddresses());
        return new GrpcServer(config.grpcHost(), config.grpcPort(), identity, ca, tokens, registry, registrations, pusher,
                blocking, clock);
    }

    private static Thread daemon(Runnable runnable, String name) {
        Thread thread = new Thread(runnable, name);
        thread.setDaemon(true);
        return thread;
    }
}
