package io.trellis.certs;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;

/**
 * Any bytes given to {@link Der} (a peer certificate's subjectAltName, an operator's key file) are either refused with
 * {@link IOException} or read as whole elements that re-encode to exactly the bytes read, all the way down; nothing
 * else is ever thrown. Seeds in {@code src/test/resources/io/trellis/certs/DerFuzzTestInputs}.
 */
class DerFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void anyInputIsRefusedOrReadAsWholeElements(byte[] input) {
        readDown(input, 0);
    }

    private static void readDown(byte[] der, int depth) {
        List<Der.Element> elements;
        try {
            elements = Der.readAll(der);
        } catch (IOException refused) {
            assertThat(refused.getMessage()).isNotBlank();
            return;
        }
        ByteArrayOutputStream again = new ByteArrayOutputStream();
        for (Der.Element element : elements) {
            again.writeBytes(element.encoded());
            if ((element.tag() & 0x20) != 0 && depth < 8) {
                readDown(element.contents(), depth + 1);
            }
        }
        assertThat(again.toByteArray()).isEqualTo(der);
    }
}
