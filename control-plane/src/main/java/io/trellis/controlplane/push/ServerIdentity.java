package io.trellis.controlplane.push;

import io.trellis.certs.CsrFactory;
import io.trellis.certs.IssuedCertificate;
import io.trellis.certs.KeyMaterial;
import io.trellis.certs.MeshKeyManager;
import io.trellis.certs.SpiffeId;
import io.trellis.controlplane.ca.MeshCertificateAuthority;
import java.net.InetAddress;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control plane's own TLS identity for the MeshControl listener:
 * {@code spiffe://<td>/ns/trellis-system/sa/control-plane} plus DNS/IP SANs, issued by the mesh CA.
 * Renewed at half its lifetime and whenever the signing root or trust domain changes; new handshakes
 * pick up the new certificate, open streams continue.
 */
public final class ServerIdentity {
    private static final Logger LOG = LoggerFactory.getLogger(ServerIdentity.class);
    /** Namespace of the control plane's identity. */
    public static final String NAMESPACE = "trellis-system";
    /** Service account of the control plane's identity. */
    public static final String SERVICE_ACCOUNT = "control-plane";
    private static final Duration TTL = Duration.ofHours(24);

    private final MeshCertificateAuthority ca;
    private final List<String> dnsNames;
    private final Clock clock;
    private final MeshKeyManager keys;
    private String issuedBy;
    private String trustDomain;

    /** Issues the first certificate. */
    public ServerIdentity(MeshCertificateAuthority ca, List<String> extraDnsNames, Clock clock) {
        this.ca = ca;
        this.clock = clock;
        List<String> names = new ArrayList<>(List.of("localhost"));
        names.addAll(extraDnsNames);
        this.dnsNames = List.copyOf(names);
        this.keys = new MeshKeyManager(issue());
    }

    /** The key manager the gRPC listener presents. */
    public MeshKeyManager keyManager() {
        return keys;
    }

    /** Renews the certificate if it is past half its life or the CA signing it changed. */
    public synchronized void renewIfDue() {
        KeyMaterial current = keys.current();
        Instant half = current.notBefore().plus(Duration.between(current.notBefore(), current.notAfter()).dividedBy(2));
        boolean caChanged = !ca.signingRootId().equals(issuedBy)
                || !ca.trustBundle().trustDomain().equals(trustDomain);
        if (caChanged || !clock.instant().isBefore(half)) {
            keys.update(issue());
            LOG.info("control-plane certificate renewed ({})", caChanged ? "CA changed" : "half-life");
        }
    }

    private synchronized KeyMaterial issue() {
        KeyPair keyPair = CsrFactory.generateKeyPair();
        trustDomain = ca.trustBundle().trustDomain();
        issuedBy = ca.signingRootId();
        SpiffeId id = SpiffeId.forWorkload(trustDomain, NAMESPACE, SERVICE_ACCOUNT);
        IssuedCertificate issued = ca.issueServer(keyPair.getPublic(), id, dnsNames,
                List.of(InetAddress.getLoopbackAddress()), TTL);
        return new KeyMaterial(keyPair.getPrivate(), issued.chain());
    }
}
