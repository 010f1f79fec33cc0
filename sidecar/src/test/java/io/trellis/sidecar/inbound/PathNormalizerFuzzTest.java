package io.trellis.sidecar.inbound;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import java.nio.charset.StandardCharsets;

/**
 * Any raw path is either refused as {@code bad-request} or normalised to a path that authorization and the app read
 * the same way: absolute, without empty, {@code .} or {@code ..} segments, without path parameters, backslashes or
 * encoded slashes, stable when normalised again, and lower-case when the app ignores case. Seeds in
 * {@code src/test/resources/io/trellis/sidecar/inbound/PathNormalizerFuzzTestInputs}; fuzzing mode: docs/security.md.
 */
class PathNormalizerFuzzTest {
    @FuzzTest(maxDuration = "20s")
    void aPathIsRefusedOrNormalisedToOneUnambiguousForm(byte[] input) {
        // The first byte picks the case mode, the rest is the path as it came off the wire (one byte per char).
        PathCase pathCase = input.length > 0 && (input[0] & 1) == 1 ? PathCase.INSENSITIVE : PathCase.SENSITIVE;
        String raw = input.length == 0 ? "" : new String(input, 1, input.length - 1, StandardCharsets.ISO_8859_1);
        String normalised;
        try {
            normalised = PathNormalizer.normalise(raw, pathCase);
        } catch (ProxyException refused) {
            assertThat(refused.error()).isEqualTo(ProxyError.BAD_REQUEST);
            return;
        }
        assertThat(normalised).startsWith("/");
        String[] segments = normalised.substring(1).split("/", -1);
        for (int i = 0; i < segments.length; i++) {
            // Only the last segment may be empty (a trailing slash).
            assertThat(segments[i]).as(raw).isNotIn(".", "..");
            if (i < segments.length - 1) {
                assertThat(segments[i]).as(raw).isNotEmpty();
            }
        }
        assertThat(normalised).as(raw).doesNotContain(";", "\\", "%2F", "%2f", "%3B", "%3b", "%5C", "%5c", "\0");
        assertThat(PathNormalizer.normalise(normalised, pathCase)).as(raw).isEqualTo(normalised);
        if (pathCase == PathCase.INSENSITIVE) {
            assertThat(normalised).isEqualTo(normalised.toLowerCase(java.util.Locale.ROOT));
        }
    }
}
