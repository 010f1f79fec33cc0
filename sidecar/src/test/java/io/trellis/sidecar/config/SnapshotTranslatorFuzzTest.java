package io.trellis.sidecar.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.InvalidProtocolBufferException;
import io.trellis.certs.CertificateAuthority;
import io.trellis.certs.Pem;
import io.trellis.certs.SpiffeId;
import io.trellis.mesh.v1.Snapshot;
import java.time.Clock;
import java.util.Arrays;
import java.util.List;

/**
 * Any snapshot bytes a control plane could push are either refused (not protobuf, or {@link InvalidSnapshotException}
 * naming what is wrong, which becomes a NACK and leaves the last good table in force) or translated into a routing
 * table: never another exception out of the session actor. The first byte's low bit keeps the fuzzed trust bundle;
 * otherwise a real root (made here, never stored) replaces it, so that the fuzzer gets past the bundle to the clusters,
 * routes and policies. Seeds in {@code src/test/resources/io/trellis/sidecar/config/SnapshotTranslatorFuzzTestInputs}.
 */
class SnapshotTranslatorFuzzTest {
    private static final String TRUST_DOMAIN = "cluster.local";
    private static final String ROOT_PEM = Pem.encodeCertificates(List.of(
            CertificateAuthority.generateRoot(TRUST_DOMAIN, Clock.systemUTC()).root()));
    private static final SnapshotTranslator TRANSLATOR =
            new SnapshotTranslator(SpiffeId.forWorkload(TRUST_DOMAIN, "default", "web"));

    @FuzzTest(maxDuration = "20s")
    void aSnapshotIsRefusedWithAReasonOrTranslated(byte[] input) {
        if (input.length == 0) {
            return;
        }
        Snapshot snapshot;
        try {
            snapshot = Snapshot.parseFrom(Arrays.copyOfRange(input, 1, input.length));
        } catch (InvalidProtocolBufferException notProtobuf) {
            return;
        }
        if ((input[0] & 1) == 0) {
            Snapshot.Builder withRoot = snapshot.toBuilder().clearTrustBundlePem().addTrustBundlePem(ROOT_PEM);
            withRoot.getMeshBuilder().setTrustDomain(TRUST_DOMAIN);
            snapshot = withRoot.build();
        }
        try {
            RoutingTable table = TRANSLATOR.translate(snapshot);
            assertThat(table.version()).isEqualTo(snapshot.getVersion());
        } catch (InvalidSnapshotException refused) {
            assertThat(refused.getMessage()).isNotBlank();
        }
    }
}
