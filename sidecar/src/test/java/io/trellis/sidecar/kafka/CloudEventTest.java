package io.trellis.sidecar.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class CloudEventTest {
    private static String json(String contentType, String data, String traceparent) {
        return new String(new CloudEvent("id-1", "spiffe://cluster.local/ns/default/sa/orders", "t", Instant.parse("2026-11-21T10:00:00Z"),
                contentType, traceparent, "req-1", data.getBytes(StandardCharsets.UTF_8)).toJson(), StandardCharsets.UTF_8);
    }

    @Test
    void embedsJsonDataAsJsonWithEveryAttribute() {
        assertThat(json("application/json", "{\"a\": [1, 2]}", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
                .isEqualTo("{\"specversion\":\"1.0\",\"id\":\"id-1\",\"source\":\"spiffe://cluster.local/ns/default/sa/orders\","
                        + "\"type\":\"t\",\"time\":\"2026-11-21T10:00:00Z\",\"datacontenttype\":\"application/json\","
                        + "\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\",\"correlationid\":\"req-1\","
                        + "\"data\":{\"a\": [1, 2]}}");
    }

    @Test
    void textIsAStringAndAnythingElseIsBase64() {
        assertThat(json("text/plain; charset=UTF-8", "hi \"there\"", null)).contains("\"data\":\"hi \\\"there\\\"\"")
                .doesNotContain("traceparent");
        assertThat(json("application/octet-stream", "\u0001\u0002", null)).contains("\"data_base64\":\"AQI=\"");
        assertThat(json("application/vnd.api+json", "[]", null)).contains("\"data\":[]");
    }

    @Test
    void refusesABodyThatIsNotTheJsonItsContentTypeClaims() {
        assertThatThrownBy(() -> json("application/json", "{\"a\":", null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("body: not valid JSON");
        assertThatThrownBy(() -> json("application/json", "{} {}", null)).hasMessageStartingWith("body: more than one JSON value");
        assertThatThrownBy(() -> json("application/json", "  ", null)).hasMessageStartingWith("body: empty");
        // A body that closes the data object early must not be able to inject envelope attributes.
        assertThatThrownBy(() -> json("application/json", "1, \"source\": \"spiffe://evil\"", null))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
