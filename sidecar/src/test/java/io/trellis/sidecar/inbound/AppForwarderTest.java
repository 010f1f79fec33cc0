package io.trellis.sidecar.inbound;

import static org.assertj.core.api.Assertions.assertThat;

import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.model.headers.Host;
import org.junit.jupiter.api.Test;

class AppForwarderTest {
    @Test
    void theAppGetsTheCallersAuthorityFromItsHost() {
        HttpRequest fromPeer = HttpRequest.POST("/trellis.conformance.Echo/Say").addHeader(Host.create("greeter"));

        assertThat(AppForwarder.authority(fromPeer, 9000)).isEqualTo("greeter");
        assertThat(AppForwarder.authority(HttpRequest.GET("/items?x=1").addHeader(Host.create("inventory", 8080)), 9000))
                .isEqualTo("inventory:8080");
    }

    @Test
    void theAuthorityComesFromTheTargetWhenThereIsNoHost() {
        assertThat(AppForwarder.authority(HttpRequest.GET("https://greeter/x"), 9000)).isEqualTo("greeter");
        assertThat(AppForwarder.authority(HttpRequest.GET("http://greeter:8080/x"), 9000)).isEqualTo("greeter:8080");
    }

    @Test
    void anAuthorityIsNeverEmpty() {
        assertThat(AppForwarder.authority(HttpRequest.GET("/"), 9000)).isEqualTo("127.0.0.1:9000");
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
}
