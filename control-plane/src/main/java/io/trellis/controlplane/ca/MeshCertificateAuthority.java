package io.trellis.controlplane.ca;

import io.trellis.certs.CertificateAuthority;
import io.trellis.certs.InvalidCsrException;
import io.trellis.certs.IssuedCertificate;
import io.trellis.certs.SpiffeId;
import io.trellis.certs.TrustBundle;
import io.trellis.controlplane.store.CaState;
import io.trellis.controlplane.store.CertificateRecord;
import io.trellis.controlplane.store.Change;
import io.trellis.controlplane.store.ConflictException;
import io.trellis.controlplane.store.MeshState;
import io.trellis.controlplane.store.PolicyStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mesh's certificate authority as the rest of the control plane sees it: which roots are trusted,
 * which one signs, issuing (and recording) certificates, and the steps of a root rotation. Key material
 * stays in {@link CaFiles}; which root plays which part is policy state, committed to the store so a
 * restart resumes exactly where it was. Thread-safe.
 */
public final class MeshCertificateAuthority {
    private static final Logger LOG = LoggerFactory.getLogger(MeshCertificateAuthority.class);

    private final PolicyStore store;
    private final CaFiles files;
    private final Clock clock;
    private final Map<String, CertificateAuthority> loaded = new ConcurrentHashMap<>();

    /**
     * Opens the CA: loads its roots, or on first start generates one (or adopts the operator-provided CA
     * in {@code operatorCaDir}) and records it in the store.
     */
    public static MeshCertificateAuthority open(PolicyStore store, java.nio.file.Path dataDir,
            java.nio.file.Path operatorCaDir, Clock clock) {
        return new MeshCertificateAuthority(store, new CaFiles(dataDir, operatorCaDir, clock), clock);
    }

    private MeshCertificateAuthority(PolicyStore store, CaFiles files, Clock clock) {
        this.store = store;
        this.files = files;
        this.clock = clock;
        initialise();
    }

    private void initialise() {
        CaState state = store.state().ca();
        if (files.hasOperatorCa()) {
            CertificateAuthority operator = load(CaFiles.OPERATOR_ID);
            if (state == null || !state.signing().equals(CaFiles.OPERATOR_ID)) {
                store.commit(new Change.SetCa(CaState.single(CaFiles.OPERATOR_ID)));
            }
            LOG.info("CA: operator-provided, signing with {}", operator.certificate().getSubjectX500Principal());
            return;
        }
        if (state == null) {
            CertificateAuthority root = CertificateAuthority.generateRoot(store.state().meshConfig().trustDomain(), clock);
            String id = save(root);
            store.commit(new Change.SetCa(CaState.single(id)));
            LOG.info("CA: generated root {} ({})", id, root.certificate().getSubjectX500Principal());
            return;
        }
        for (String id : state.trusted()) {
            load(id);
        }
        LOG.info("CA: signing with root {}, trusting {}", state.signing(), state.trusted());
    }

    /** The roots every sidecar must trust now, in the current trust domain. */
    public TrustBundle trustBundle() {
        MeshState state = store.state();
        List<X509Certificate> roots = new ArrayList<>();
        for (String id : state.ca().trusted()) {
            roots.add(load(id).root());
        }
        return new TrustBundle(state.meshConfig().trustDomain(), roots);
    }

    /** The current CA state. */
    public CaState state() {
        return store.state().ca();
    }

    /** The root id of a certificate, as used in {@link CaState}. */
    public static String rootId(X509Certificate root) {
        return CaFiles.rootId(root);
    }

    /** The fingerprint id ({@link #rootId}) of the root being rotated in; null when not rotating. */
    public String pendingRootFingerprint() {
        CaState state = state();
        return state.pending() == null ? null : CaFiles.rootId(load(state.pending()).root());
    }

    /**
     * Issues and records a workload certificate for {@code identity}, with the mesh's certificate TTL.
     *
     * @throws InvalidCsrException when the CSR is refused
     */
    public IssuedCertificate issueWorkload(byte[] csrDer, SpiffeId identity) throws InvalidCsrException {
        MeshState state = store.state();
        Duration ttl = state.meshConfig().certificateTtl();
        IssuedCertificate issued = signer(state).issueWorkload(csrDer, identity, ttl);
        store.commit(new Change.RecordCertificate(new CertificateRecord(issued.serial().toString(16),
                identity.toString(), clock.instant(), issued.notAfter(), state.ca().signing())));
        return issued;
    }

    /** Issues a certificate for a server the control plane runs itself (not recorded: it is not a workload). */
    public IssuedCertificate issueServer(PublicKey key, SpiffeId identity, List<String> dnsNames,
            List<InetAddress> addresses, Duration ttl) {
        return signer(store.state()).issueServer(key, identity, dnsNames, addresses, ttl);
    }

    /** The root id currently signing. */
    public String signingRootId() {
        return state().signing();
    }

    /**
     * Starts a rotation: a new root is generated and joins the trust bundle; signing switches once every
     * connected sidecar has acknowledged a bundle holding it ({@link CaRotationCoordinator}).
     *
     * @throws ConflictException when a rotation is already running or the CA is operator-provided
     */
    public synchronized CaState startRotation() {
        CaState state = state();
        if (state.rotating() || state.retiring() != null) {
            throw new ConflictException("a CA rotation is already in progress (pending " + state.pending()
                    + ", retiring " + state.retiring() + ")");
        }
        if (files.hasOperatorCa()) {
            throw new ConflictException("the CA is operator-provided: rotate by replacing the files in the CA "
                    + "directory and restarting");
        }
        CertificateAuthority next = CertificateAuthority.generateRoot(store.state().meshConfig().trustDomain(), clock);
        String id = save(next);
        LOG.info("CA rotation started: new root {} joins the trust bundle", id);
        return store.commit(new Change.SetCa(state.withPending(id))).ca();
    }

    /** Switches signing to the pending root; the old root stays trusted until {@code retireAfter}. */
    synchronized void switchSigning(Instant retireAfter) {
        CaState state = state();
        if (state.rotating()) {
            LOG.info("CA rotation: signing switches to {}; {} retires after {}", state.pending(), state.signing(), retireAfter);
            store.commit(new Change.SetCa(state.switched(retireAfter)));
        }
    }

    /** Removes the retiring root from the trust bundle. */
    synchronized void retire() {
        CaState state = state();
        if (state.retiring() != null) {
            LOG.info("CA rotation complete: root {} leaves the trust bundle", state.retiring());
            store.commit(new Change.SetCa(state.retired()));
        }
    }

    private CertificateAuthority signer(MeshState state) {
        return load(state.ca().signing());
    }

    private CertificateAuthority load(String id) {
        return loaded.computeIfAbsent(id, key -> {
            try {
                return files.load(key);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read CA " + key + ": " + e.getMessage(), e);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("CA " + key + " is unusable: " + e.getMessage(), e);
            }
        });
    }

    private String save(CertificateAuthority ca) {
        try {
            String id = files.save(ca);
            loaded.put(id, ca);
            return id;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write CA key files: " + e.getMessage(), e);
        }
    }
}
