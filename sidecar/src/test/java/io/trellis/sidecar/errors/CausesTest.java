package io.trellis.sidecar.errors;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ConnectException;
import java.util.concurrent.CompletionException;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

class CausesTest {
    @Test
    void refusedConnectionsAndFailedHandshakesNeverReachedThePeer() {
        ProxyException refused = Causes.upstreamFailure("echo", new CompletionException(new ConnectException("Connection refused")));
        ProxyException handshake = Causes.upstreamFailure("echo", new IOException("tls", new SSLHandshakeException("bad peer")));

        assertThat(refused.error()).isEqualTo(ProxyError.UPSTREAM_CONNECT_FAILURE);
        assertThat(refused.getMessage()).isEqualTo("cannot connect to echo: Connection refused");
        assertThat(handshake.error()).isEqualTo(ProxyError.UPSTREAM_CONNECT_FAILURE);
    }

    @Test
    void otherFailuresAreResetsAndTypedFailuresPassThrough() {
        ProxyException reset = Causes.upstreamFailure("echo", new IOException("Connection reset by peer"));
        ProxyException typed = new ProxyException(ProxyError.OVERLOADED, "busy");

        assertThat(reset.error()).isEqualTo(ProxyError.UPSTREAM_RESET);
        assertThat(reset.getMessage()).isEqualTo("connection to echo broke: Connection reset by peer");
        assertThat(Causes.upstreamFailure("echo", typed)).isSameAs(typed);
        assertThat(Causes.upstreamFailure("echo", null, false).getMessage()).isEqualTo("connection to echo broke: closed");
    }
}
