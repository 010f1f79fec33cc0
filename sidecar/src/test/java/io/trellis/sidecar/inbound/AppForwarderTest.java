package io.trellis.sidecar.inbound;

import static org.assertj.core.api.Assertions.assertThat;

import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.model.headers.Host;
import org.junit.jupiter.api.Test;

class AppForwarderTest {
    @Test
    void anH2cAppGetsHttpSchemeAndTheCallersAuthority() {
        HttpRequest fromPeer = HttpRequest.POST("https://greeter/trellis.conformance.Echo/Say").addHeader(Host.create("greeter"));

        HttpRequest toApp = AppForwarder.forH2c(fromPeer, 9000);

        assertThat(toApp.getUri().scheme()).isEqualTo("http");
        assertThat(toApp.getUri().host().address()).isEqualTo("greeter");
        assertThat(toApp.getUri().toString()).isEqualTo("http://greeter/trellis.conformance.Echo/Say");
        assertThat(toApp.getHeader(Host.class)).isEmpty();
    }

    @Test
    void theAuthorityComesFromHostWhenTheTargetHasNone() {
        HttpRequest fromPeer = HttpRequest.GET("/items?x=1").addHeader(Host.create("inventory", 8080));

        HttpRequest toApp = AppForwarder.forH2c(fromPeer, 9000);

        assertThat(toApp.getUri().toString()).isEqualTo("http://inventory:8080/items?x=1");
    }

    @Test
    void anAppCannotSpeakForTheSidecar() {
        HttpResponse fromApp = HttpResponse.create().withStatus(503)
                .addHeader(RawHeader.create("Trellis-Error", "upstream-connect-failure"))
                .addHeader(RawHeader.create("trellis-retry", "attempts=1"))
                .addHeader(RawHeader.create("x-app", "kept"));

        HttpResponse toCaller = AppForwarder.fromApp(fromApp);

        assertThat(toCaller.getHeader("trellis-error")).isEmpty();
        assertThat(toCaller.getHeader("trellis-retry")).isEmpty();
        assertThat(toCaller.getHeader("x-app")).isPresent();
    }

    @Test
    void anAuthorityIsNeverEmpty() {
        HttpRequest toApp = AppForwarder.forH2c(HttpRequest.GET("/"), 9000);

        assertThat(toApp.getUri().toString()).isEqualTo("http://127.0.0.1:9000/");
    }
}
