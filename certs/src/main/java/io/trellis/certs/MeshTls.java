package io.trellis.certs;

import java.security.GeneralSecurityException;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;

/** Builds TLS contexts for mesh mTLS from a {@link MeshKeyManager} and a {@link MeshTrustManager}. */
public final class MeshTls {
    /** Protocols the mesh speaks; TLS 1.2 stays for peers like older curl/openssl builds. */
    public static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

    private MeshTls() {
    }

    /** A TLS context presenting {@code keys} (may be null for a client without a certificate). */
    public static SSLContext context(MeshKeyManager keys, X509ExtendedTrustManager trust) {
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(keys == null ? null : new KeyManager[] {keys}, new TrustManager[] {trust}, null);
            return context;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK cannot create a TLS context", e);
        }
    }
}
