package io.trellis.controlplane;

import static org.assertj.core.api.Assertions.assertThat;

import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.trellis.controlplane.push.GrpcServer;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The control plane's listeners bind loopback unless told otherwise (issue 12, item 14: they bound every interface). */
class ListenerDefaultsTest {
    @Test
    void bothListenersBindLoopbackByDefault() throws Exception {
        Path dataDir = Files.createTempDirectory("trellis-defaults");
        try (EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, Map.of("micronaut.server.port", "-1",
                "trellis.grpc-port", "0", "trellis.data-dir", dataDir.resolve("data").toString()))) {
            GrpcServer grpc = server.getApplicationContext().getBean(GrpcServer.class);

            assertThat(grpc.localAddress().getAddress().isLoopbackAddress()).as(grpc.localAddress().toString()).isTrue();
            assertThat(InetAddress.getByName(server.getHost()).isLoopbackAddress()).as(server.getHost()).isTrue();
        }
    }
}
