package io.trellis.certs;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;

/**
 * Any string is either refused with {@link InvalidSpiffeIdException} or parsed to an ID that prints back to exactly the
 * string, parses again to an equal ID, and names its workload only when it has the {@code ns/<ns>/sa/<sa>} shape. A
 * certificate's URI SAN goes through this parser before anything trusts it. Seeds in
 * {@code src/test/resources/io/trellis/certs/SpiffeIdFuzzTestInputs}.
 */
class SpiffeIdFuzzTest {
    @FuzzTest(maxDuration = "20s")
    void anIdIsRefusedOrReadBackExactly(byte[] input) {
        String value = new String(input, StandardCharsets.UTF_8);
        SpiffeId id;
        try {
            id = SpiffeId.parse(value);
        } catch (InvalidSpiffeIdException refused) {
            assertThat(refused.getMessage()).isNotBlank();
            return;
        }
        assertThat(id.toString()).isEqualTo(value);
        assertThat(SpiffeId.parse(id.toString())).isEqualTo(id);
        assertThat(id.segments()).allSatisfy(segment -> assertThat(segment).isNotEmpty().isNotIn(".", "..").doesNotContain("/"));
        if (id.isWorkload()) {
            assertThat(id.segments()).hasSize(4).startsWith("ns");
            assertThat(id.segments().get(2)).isEqualTo("sa");
            assertThat(SpiffeId.forWorkload(id.trustDomain(), id.namespace(), id.serviceAccount())).isEqualTo(id);
        }
    }
}
