package io.trellis.certs;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * A JSSE trust manager for mesh mTLS. It reads the current {@link TrustBundle} on every handshake, so
 * a bundle pushed during CA rotation applies to new connections while open ones continue. Client
 * peers must prove any identity in the trust domain (authorization happens later, per request);
 * server peers must prove exactly the expected identity when one is set. Thread-safe.
 */
public final class MeshTrustManager extends X509ExtendedTrustManager {
    private final Supplier<TrustBundle> bundle;
    private final Clock clock;
    private final SpiffeId expectedServer;

    private MeshTrustManager(Supplier<TrustBundle> bundle, Clock clock, SpiffeId expectedServer) {
        this.bundle = Objects.requireNonNull(bundle, "bundle");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.expectedServer = expectedServer;
    }

    /** For servers (and clients that accept any mesh server): every identity in the trust domain passes. */
    public static MeshTrustManager anyIdentity(Supplier<TrustBundle> bundle, Clock clock) {
        return new MeshTrustManager(bundle, clock, null);
    }

    /** For clients that dial one known peer: the server must prove exactly {@code expected}. */
    public static MeshTrustManager expectingServer(Supplier<TrustBundle> bundle, Clock clock, SpiffeId expected) {
        return new MeshTrustManager(bundle, clock, Objects.requireNonNull(expected, "expected"));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        PeerCertificateVerifier.verify(List.of(chain), bundle.get(), PeerCertificateVerifier.PeerRole.CLIENT,
                clock.instant());
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        if (expectedServer == null) {
            PeerCertificateVerifier.verify(List.of(chain), bundle.get(), PeerCertificateVerifier.PeerRole.SERVER,
                    clock.instant());
        } else {
            PeerCertificateVerifier.verifyIdentity(List.of(chain), bundle.get(),
                    PeerCertificateVerifier.PeerRole.SERVER, clock.instant(), expectedServer);
        }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        checkClientTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        checkServerTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        checkClientTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        checkServerTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return bundle.get().roots().toArray(X509Certificate[]::new);
    }
}
