package io.trellis.controlplane.resource;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.Arrays;
import java.util.List;

/**
 * Any body sent to the API, as YAML or JSON, is either refused with an {@link InvalidResourceException} that names at
 * least one field, or decoded to resources that encode and decode back to themselves: never another exception (a
 * parser's, a cast, a null), never a half-read document. The first byte picks the format. Seeds in
 * {@code src/test/resources/io/trellis/controlplane/resource/ResourceCodecFuzzTestInputs}.
 */
class ResourceCodecFuzzTest {
    private static final ResourceCodec CODEC = new ResourceCodec();

    @FuzzTest(maxDuration = "20s")
    void aBodyIsRefusedWithItsFieldsOrDecodedWhole(byte[] input) {
        if (input.length == 0) {
            return;
        }
        ResourceCodec.Format format = (input[0] & 1) == 0 ? ResourceCodec.Format.YAML : ResourceCodec.Format.JSON;
        byte[] body = Arrays.copyOfRange(input, 1, input.length);
        List<Resource> decoded;
        try {
            decoded = CODEC.decodeAll(body, format);
        } catch (InvalidResourceException refused) {
            assertThat(refused.errors()).as("a refusal names what is wrong").isNotEmpty();
            return;
        }
        for (Resource resource : decoded) {
            for (ResourceCodec.Format again : ResourceCodec.Format.values()) {
                assertThat(CODEC.decode(CODEC.encode(resource, again), again)).isEqualTo(resource);
            }
        }
    }
}
