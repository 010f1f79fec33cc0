package io.trellis.sidecar.identity;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.trellis.certs.KeyMaterial;
import io.trellis.certs.MeshKeyManager;
import io.trellis.certs.MeshTls;
import io.trellis.certs.MeshTrustManager;
import io.trellis.certs.SpiffeId;
import io.trellis.certs.TrustBundle;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;

/**
 * This sidecar's mesh identity as the TLS layers see it: the current key and certificate (swapped atomically
 * on renewal) and the current trust bundle (swapped on CA rotation). TLS contexts are built once and read
 * both on every handshake, so open connections keep going and new ones use the new material. Thread-safe.
 */
public final class WorkloadIdentity {
    private final SpiffeId id;
    private final Clock clock;
    private final ProxyMetrics metrics;
    private final MeshKeyManager keys = MeshKeyManager.awaitingFirstCertificate();
    private final AtomicReference<TrustBundle> bundle;
    private final ConcurrentHashMap<SpiffeId, SSLContext> clientContexts = new ConcurrentHashMap<>();
    private final SSLContext serverContext;
    private final ConcurrentHashMap<SpiffeId, SslContext> tunnelClientContexts = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<SpiffeId, SslContext> peerContexts = new ConcurrentHashMap<>();
    /** Made on first use (once per connection, never per request) and again after a trust-bundle change; guarded by this. */
    private SslContext tunnelServerContext;
    private SslContext inboundContext;
    private final List<Runnable> installListeners = new CopyOnWriteArrayList<>();

    /** An identity {@code id} that trusts {@code initialBundle} until the first update. */
    public WorkloadIdentity(SpiffeId id, TrustBundle initialBundle, Clock clock, ProxyMetrics metrics) {
        this.id = Objects.requireNonNull(id, "id");
        this.clock = clock;
        this.metrics = metrics;
        this.bundle = new AtomicReference<>(initialBundle);
        this.serverContext = MeshTls.context(keys,
                new CountingTrustManager(MeshTrustManager.anyIdentity(bundle::get, clock), metrics, "inbound"));
    }

    /** The SPIFFE ID this sidecar holds (or will hold once issued). */
    public SpiffeId id() {
        return id;
    }

    /** True once a certificate is installed and not expired. */
    public boolean isIssued() {
        KeyMaterial current = keys.current();
        return current != null && current.notAfter().isAfter(clock.instant());
    }

    /** The installed key and chain, or null before the first certificate. */
    public KeyMaterial current() {
        return keys.current();
    }

    /** When the installed certificate expires, or null before the first certificate. */
    public Instant notAfter() {
        KeyMaterial current = keys.current();
        return current == null ? null : current.notAfter();
    }

    /** Installs a new key and certificate; handshakes from now on present it. */
    public void install(KeyMaterial material) {
        keys.update(material);
        metrics.certificateInstalled(material.notAfter());
        for (Runnable listener : installListeners) {
            listener.run();
        }
    }

    /** Runs {@code listener} after every later {@link #install}, on the installer's thread; it must not throw. */
    public void onInstall(Runnable listener) {
        installListeners.add(listener);
    }

    /** The roots peers must chain to. */
    public TrustBundle trustBundle() {
        return bundle.get();
    }

    /**
     * Trusts {@code next} from the next handshake on. When the roots change, the Netty TLS contexts are made anew, so
     * no session made under the old roots is resumed under the new ones (resumption skips certificate checks).
     */
    public void updateTrustBundle(TrustBundle next) {
        TrustBundle previous = bundle.getAndSet(Objects.requireNonNull(next, "next"));
        if (!next.equals(previous)) {
            synchronized (this) {
                tunnelServerContext = null;
                inboundContext = null;
            }
            peerContexts.clear();
            tunnelClientContexts.clear();
        }
    }

    /** TLS for the inbound listener: presents this identity, accepts any identity of the trust domain. */
    public SSLContext serverContext() {
        return serverContext;
    }

    /**
     * TLS for the opaque-TCP tunnel listener (BoringSSL where it loads, else the JDK's, as for every Netty context
     * here): presents this identity, requires a client certificate at the handshake and accepts any identity of the
     * trust domain.
     */
    public synchronized SslContext tunnelServerContext() {
        if (tunnelServerContext == null) {
            tunnelServerContext = build(SslContextBuilder.forServer(keys).clientAuth(ClientAuth.REQUIRE)
                    .trustManager(new CountingTrustManager(MeshTrustManager.anyIdentity(bundle::get, clock), metrics, "inbound")));
        }
        return tunnelServerContext;
    }

    /**
     * TLS for the inbound HTTP listener: presents this identity, requires a client certificate at the handshake (a
     * caller without one never reaches HTTP: STRICT means a certificate at the handshake, and PERMISSIVE admits
     * plaintext only, not anonymous TLS), accepts any identity of the trust domain, and offers HTTP/2 and HTTP/1.1 by
     * ALPN.
     */
    public synchronized SslContext inboundContext() {
        if (inboundContext == null) {
            inboundContext = build(SslContextBuilder.forServer(keys).clientAuth(ClientAuth.REQUIRE)
                    .trustManager(new CountingTrustManager(MeshTrustManager.anyIdentity(bundle::get, clock), metrics, "inbound"))
                    .applicationProtocolConfig(alpn(ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1)));
        }
        return inboundContext;
    }

    /** TLS for HTTP/2 to a peer sidecar that must prove exactly {@code expected} (ALPN h2). */
    public SslContext peerContext(SpiffeId expected) {
        return peerContexts.computeIfAbsent(expected, peer -> build(SslContextBuilder.forClient().keyManager(keys)
                .trustManager(new CountingTrustManager(MeshTrustManager.expectingServer(bundle::get, clock, peer), metrics,
                        "outbound"))
                .applicationProtocolConfig(alpn(ApplicationProtocolNames.HTTP_2))));
    }

    private static ApplicationProtocolConfig alpn(String... protocols) {
        return new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, protocols);
    }

    /** TLS for an opaque-TCP tunnel to a peer that must prove exactly {@code expected}. */
    public SslContext tunnelClientContext(SpiffeId expected) {
        return tunnelClientContexts.computeIfAbsent(expected, peer -> build(SslContextBuilder.forClient().keyManager(keys)
                .trustManager(new CountingTrustManager(MeshTrustManager.expectingServer(bundle::get, clock, peer), metrics,
                        "outbound"))));
    }

    private static SslContext build(SslContextBuilder builder) {
        try {
            return builder.sslProvider(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK)
                    .protocols(MeshTls.PROTOCOLS).ciphers(java.util.Arrays.asList(MeshTls.CIPHERS)).build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot create a TLS context: " + e.getMessage(), e);
        }
    }

    /** TLS for dialling a peer that must prove exactly {@code expected}. */
    public SSLContext clientContext(SpiffeId expected) {
        return clientContexts.computeIfAbsent(expected, peer -> MeshTls.context(keys,
                new CountingTrustManager(MeshTrustManager.expectingServer(bundle::get, clock, peer), metrics, "outbound")));
    }
}
