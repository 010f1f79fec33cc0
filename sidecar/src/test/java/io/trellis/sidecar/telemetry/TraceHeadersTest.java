package io.trellis.sidecar.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;
import java.util.UUID;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.junit.jupiter.api.Test;

class TraceHeadersTest {
    private static final String W3C = "00-[0-9a-f]{32}-[0-9a-f]{16}-01";

    @Test
    void aRequestWithoutIdsGetsARandomUuidAndAValidTraceparent() {
        HttpRequest request = TraceHeaders.ensure(HttpRequest.GET("/x"));

        UUID id = UUID.fromString(TraceHeaders.requestId(request));
        assertThat(id.version()).isEqualTo(4);
        assertThat(id.variant()).isEqualTo(2);
        assertThat(TraceHeaders.requestId(request)).isEqualTo(id.toString());
        assertThat(TraceHeaders.traceparent(request)).matches(W3C).doesNotContain("-0000000000000000-")
                .doesNotStartWith("00-00000000000000000000000000000000");
    }

    @Test
    void newIdsDifferFromRequestToRequest() {
        Set<String> ids = new HashSet<>();
        Set<String> traces = new HashSet<>();
        for (int i = 0; i < 1_000; i++) {
            HttpRequest request = TraceHeaders.ensure(HttpRequest.GET("/x"));
            ids.add(TraceHeaders.requestId(request));
            traces.add(TraceHeaders.traceparent(request));
        }

        assertThat(ids).hasSize(1_000);
        assertThat(traces).hasSize(1_000);
    }

    @Test
    void validIdsPassThroughAndAMalformedTraceparentIsReplaced() {
        String valid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        HttpRequest kept = TraceHeaders.ensure(HttpRequest.GET("/x")
                .addHeader(RawHeader.create("x-request-id", "req-1")).addHeader(RawHeader.create("traceparent", valid)));
        HttpRequest replaced = TraceHeaders.ensure(HttpRequest.GET("/x")
                .addHeader(RawHeader.create("traceparent", "00-00000000000000000000000000000000-b7ad6b7169203331-01")));

        assertThat(TraceHeaders.requestId(kept)).isEqualTo("req-1");
        assertThat(TraceHeaders.traceparent(kept)).isEqualTo(valid);
        assertThat(TraceHeaders.traceparent(replaced)).matches(W3C).isNotEqualTo(valid);
    }

    @Test
    void anUnusableIdOrTraceparentIsReplacedByExactlyOneNewHeader() {
        HttpRequest request = TraceHeaders.ensure(HttpRequest.GET("/x").addHeader(RawHeader.create("x-request-id", " "))
                .addHeader(RawHeader.create("traceparent", "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")));

        assertThat(request.getHeaders()).filteredOn(header -> header.is("x-request-id")).hasSize(1);
        assertThat(request.getHeaders()).filteredOn(header -> header.is("traceparent")).hasSize(1);
        assertThat(TraceHeaders.requestId(request)).isNotBlank();
        assertThat(TraceHeaders.traceparent(request)).matches(W3C);
    }
}
