package io.trellis.certs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Real TLS handshakes over loopback with the mesh key and trust managers. */
class MeshTlsTest {
    private final Clock clock = Clock.systemUTC();
    private final CertificateAuthority ca = CertificateAuthority.generateRoot("cluster.local", clock);
    private final AtomicReference<TrustBundle> bundle =
            new AtomicReference<>(new TrustBundle("cluster.local", List.of(ca.certificate())));
    private final SpiffeId server = SpiffeId.forWorkload("cluster.local", "default", "inventory");
    private final SpiffeId client = SpiffeId.forWorkload("cluster.local", "default", "web");
    private final ExecutorService executor = Executors.newSingleThreadExecutor();

    @AfterEach
    void stop() {
        executor.shutdownNow();
    }

    private KeyMaterial issue(CertificateAuthority by, SpiffeId id) throws Exception {
        var keys = CsrFactory.generateKeyPair();
        return new KeyMaterial(keys.getPrivate(),
                by.issueWorkload(CsrFactory.createCsr(keys, id), id, Duration.ofHours(1)).chain());
    }

    /** Accepts one connection, completes the handshake and returns the client's leaf. */
    private Future<X509Certificate> acceptOne(SSLServerSocket socket) {
        return executor.submit(() -> {
            try (SSLSocket accepted = (SSLSocket) socket.accept()) {
                accepted.startHandshake();
                accepted.getOutputStream().write(1);
                accepted.getOutputStream().flush();
                return (X509Certificate) accepted.getSession().getPeerCertificates()[0];
            }
        });
    }

    private SSLServerSocket listen(MeshKeyManager keys) throws IOException {
        SSLContext context = MeshTls.context(keys, MeshTrustManager.anyIdentity(bundle::get, clock));
        SSLServerSocket socket = (SSLServerSocket) context.getServerSocketFactory()
                .createServerSocket(0, 10, InetAddress.getLoopbackAddress());
        socket.setNeedClientAuth(true);
        return socket;
    }

    private X509Certificate connect(int port, MeshKeyManager keys, SpiffeId expected) throws IOException {
        SSLContext context = MeshTls.context(keys, MeshTrustManager.expectingServer(bundle::get, clock, expected));
        try (SSLSocket socket = (SSLSocket) context.getSocketFactory()
                .createSocket(InetAddress.getLoopbackAddress(), port)) {
            socket.startHandshake();
            socket.getInputStream().read();
            return (X509Certificate) socket.getSession().getPeerCertificates()[0];
        }
    }

    @Test
    void mutualHandshakeChecksTheExpectedServerIdentity() throws Exception {
        MeshKeyManager serverKeys = new MeshKeyManager(issue(ca, server));
        try (SSLServerSocket socket = listen(serverKeys)) {
            Future<X509Certificate> seenByServer = acceptOne(socket);
            X509Certificate seenByClient = connect(socket.getLocalPort(), new MeshKeyManager(issue(ca, client)), server);
            assertThat(PeerCertificateVerifier.uriSanIdentity(seenByClient)).isEqualTo(server);
            assertThat(PeerCertificateVerifier.uriSanIdentity(seenByServer.get(10, TimeUnit.SECONDS))).isEqualTo(client);
        }
    }

    @Test
    void clientRefusesServerWithAnotherIdentity() throws Exception {
        MeshKeyManager serverKeys = new MeshKeyManager(issue(ca, client));
        try (SSLServerSocket socket = listen(serverKeys)) {
            acceptOne(socket);
            assertThatThrownBy(() -> connect(socket.getLocalPort(), new MeshKeyManager(issue(ca, client)), server))
                    .isInstanceOf(SSLException.class);
        }
    }

    @Test
    void serverRefusesClientWithoutCertificateOrFromForeignCa() throws Exception {
        MeshKeyManager serverKeys = new MeshKeyManager(issue(ca, server));
        try (SSLServerSocket socket = listen(serverKeys)) {
            Future<X509Certificate> first = acceptOne(socket);
            assertThatThrownBy(() -> connect(socket.getLocalPort(), null, server)).isInstanceOf(IOException.class);
            assertThatThrownBy(() -> first.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(SSLException.class);

            CertificateAuthority foreign = CertificateAuthority.generateRoot("cluster.local", clock);
            Future<X509Certificate> second = acceptOne(socket);
            assertThatThrownBy(() -> connect(socket.getLocalPort(), new MeshKeyManager(issue(foreign, client)), server))
                    .isInstanceOf(IOException.class);
            assertThatThrownBy(() -> second.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(SSLException.class);
        }
    }

    @Test
    void newHandshakesPresentTheRenewedCertificate() throws Exception {
        KeyMaterial first = issue(ca, server);
        MeshKeyManager serverKeys = new MeshKeyManager(first);
        MeshKeyManager clientKeys = new MeshKeyManager(issue(ca, client));
        try (SSLServerSocket socket = listen(serverKeys)) {
            acceptOne(socket);
            assertThat(connect(socket.getLocalPort(), clientKeys, server)).isEqualTo(first.leaf());

            KeyMaterial renewed = issue(ca, server);
            serverKeys.update(renewed);
            acceptOne(socket);
            assertThat(connect(socket.getLocalPort(), clientKeys, server)).isEqualTo(renewed.leaf());
        }
    }

    @Test
    void bundleUpdateLetsPeersFromTheNewRootIn() throws Exception {
        CertificateAuthority next = CertificateAuthority.generateRoot("cluster.local", clock);
        MeshKeyManager serverKeys = new MeshKeyManager(issue(ca, server));
        MeshKeyManager newClient = new MeshKeyManager(issue(next, client));
        try (SSLServerSocket socket = listen(serverKeys)) {
            acceptOne(socket);
            assertThatThrownBy(() -> connect(socket.getLocalPort(), newClient, server)).isInstanceOf(IOException.class);

            bundle.set(bundle.get().with(next.certificate()));
            acceptOne(socket);
            assertThat(connect(socket.getLocalPort(), newClient, server)).isNotNull();
        }
    }
}
