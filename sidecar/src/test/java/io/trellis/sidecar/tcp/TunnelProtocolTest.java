package io.trellis.sidecar.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.sidecar.errors.ProxyError;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class TunnelProtocolTest {
    @Test
    void aRequestNamesOnePortOfThisVersion() {
        String line = new String(TunnelProtocol.request(6379), StandardCharsets.US_ASCII);

        assertThat(line).isEqualTo("TRELLIS-TCP/1 6379\n");
        assertThat(TunnelProtocol.requestedPort(line.strip())).contains(6379);
    }

    @Test
    void anythingElseIsNotARequest() {
        for (String line : new String[] {"", "TRELLIS-TCP/1", "TRELLIS-TCP/1 0", "TRELLIS-TCP/1 65536", "TRELLIS-TCP/1 099",
                "TRELLIS-TCP/2 80", "trellis-tcp/1 80", "TRELLIS-TCP/1  80", "TRELLIS-TCP/1 80 ", "GET / HTTP/1.1",
                "TRELLIS-TCP/1 " + "9".repeat(40)}) {
            assertThat(TunnelProtocol.requestedPort(line)).as(line).isEmpty();
        }
    }

    @Test
    void answersAreOkOrARefusalOfTheErrorTable() {
        assertThat(TunnelProtocol.refusal("OK")).isEmpty();
        assertThat(TunnelProtocol.refusal(new String(TunnelProtocol.refused(ProxyError.DENIED), StandardCharsets.US_ASCII).strip()))
                .contains(ProxyError.DENIED);
        assertThat(TunnelProtocol.refusal("ERR upstream-connect-failure")).contains(ProxyError.UPSTREAM_CONNECT_FAILURE);
    }

    @Test
    void anAnswerFromAPeerThatDoesNotSpeakTheProtocolReadsAsAReset() {
        assertThat(TunnelProtocol.refusal("HTTP/1.1 400 Bad Request")).contains(ProxyError.UPSTREAM_RESET);
        assertThat(TunnelProtocol.refusal("ERR made-up-code")).contains(ProxyError.UPSTREAM_RESET);
        assertThat(TunnelProtocol.refusal("ok")).contains(ProxyError.UPSTREAM_RESET);
    }
}
