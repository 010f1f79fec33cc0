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
    /**
     * Cipher suites the mesh offers and accepts: TLS 1.3's, and for TLS 1.2 only forward-secret AEAD suites (no CBC,
     * no static RSA key exchange), in order of preference.
     */
    public static final String[] CIPHERS = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"};

    private MeshTls() {
    }

    /** {@link #CIPHERS} restricted to what {@code supported} (an engine's supported suites) has. */
    public static String[] ciphers(String[] supported) {
        java.util.Set<String> available = java.util.Set.of(supported);
        return java.util.Arrays.stream(CIPHERS).filter(available::contains).toArray(String[]::new);
    }

    /**
     * Refuses TLS 1.2 renegotiation a client starts (the JDK allows it by default; BoringSSL never renegotiates as a
     * server). Call before the first TLS context is made.
     */
    public static void refuseClientRenegotiation() {
        System.setProperty("jdk.tls.rejectClientInitiatedRenegotiation", "true");
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
