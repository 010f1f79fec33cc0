package io.trellis.certs;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.Objects;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * A JSSE key manager whose certificate can be replaced at any time with {@link #update}: new handshakes
 * present the new certificate, open connections are not touched. Each material gets its own alias (its
 * serial), and the previous one stays resolvable, so a handshake that chose an alias just before a swap
 * still gets a matching key and chain. Thread-safe.
 */
public final class MeshKeyManager extends X509ExtendedKeyManager {
    private record Entry(String alias, KeyMaterial material) {
    }

    private volatile Entry current;
    private volatile Entry previous;

    /** A key manager presenting {@code initial}. */
    public MeshKeyManager(KeyMaterial initial) {
        this.current = entry(initial);
    }

    /**
     * A key manager with no certificate yet: handshakes that need one fail until the first
     * {@link #update}. Lets a process bind its TLS listeners before its identity is issued.
     */
    public static MeshKeyManager awaitingFirstCertificate() {
        return new MeshKeyManager();
    }

    private MeshKeyManager() {
        this.current = null;
    }

    /** Presents {@code next} on every later handshake. */
    public synchronized void update(KeyMaterial next) {
        previous = current;
        current = entry(next);
    }

    /** The material new handshakes use, or null before the first certificate. */
    public KeyMaterial current() {
        Entry now = current;
        return now == null ? null : now.material();
    }

    private static Entry entry(KeyMaterial material) {
        Objects.requireNonNull(material, "material");
        return new Entry("mesh-" + material.leaf().getSerialNumber().toString(16), material);
    }

    private KeyMaterial lookup(String alias) {
        Entry now = current;
        if (now != null && now.alias().equals(alias)) {
            return now.material();
        }
        Entry before = previous;
        return before != null && before.alias().equals(alias) ? before.material() : null;
    }

    private String aliasFor(String... keyTypes) {
        Entry now = current;
        if (now == null) {
            return null;
        }
        String algorithm = now.material().privateKey().getAlgorithm();
        return keyTypes == null || Arrays.stream(keyTypes).anyMatch(t -> t != null && t.startsWith(algorithm))
                ? now.alias() : null;
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
        String alias = aliasFor(keyType);
        return alias == null ? null : new String[] {alias};
    }

    @Override
    public String chooseClientAlias(String[] keyTypes, Principal[] issuers, Socket socket) {
        return aliasFor(keyTypes);
    }

    @Override
    public String chooseEngineClientAlias(String[] keyTypes, Principal[] issuers, SSLEngine engine) {
        return aliasFor(keyTypes);
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
        return getClientAliases(keyType, issuers);
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
        return aliasFor(keyType);
    }

    @Override
    public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
        return aliasFor(keyType);
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
        KeyMaterial material = lookup(alias);
        return material == null ? null : material.chain().toArray(X509Certificate[]::new);
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
        KeyMaterial material = lookup(alias);
        return material == null ? null : material.privateKey();
    }
}
