package io.trellis.sidecar.identity;

import io.trellis.certs.MeshTrustManager;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/** Counts the peer certificates a {@link MeshTrustManager} rejects, by direction, then rethrows. */
final class CountingTrustManager extends X509ExtendedTrustManager {
    private final MeshTrustManager delegate;
    private final ProxyMetrics metrics;
    private final String direction;

    CountingTrustManager(MeshTrustManager delegate, ProxyMetrics metrics, String direction) {
        this.delegate = delegate;
        this.metrics = metrics;
        this.direction = direction;
    }

    private interface Check {
        void run() throws CertificateException;
    }

    private void counted(Check check) throws CertificateException {
        try {
            check.run();
        } catch (CertificateException e) {
            metrics.tlsHandshakeFailed(direction);
            throw e;
        }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        counted(() -> delegate.checkClientTrusted(chain, authType));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        counted(() -> delegate.checkServerTrusted(chain, authType));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        counted(() -> delegate.checkClientTrusted(chain, authType, socket));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        counted(() -> delegate.checkServerTrusted(chain, authType, socket));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        counted(() -> delegate.checkClientTrusted(chain, authType, engine));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        counted(() -> delegate.checkServerTrusted(chain, authType, engine));
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return delegate.getAcceptedIssuers();
    }
}
