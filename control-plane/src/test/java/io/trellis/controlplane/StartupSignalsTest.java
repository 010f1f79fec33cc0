package io.trellis.controlplane;

import static org.assertj.core.api.Assertions.assertThat;

import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.trellis.controlplane.push.GrpcServer;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What people and scripts can wait on (issue 13, "start-up that people and scripts can trust"): the README's
 * snippets raced the start-up, and a second control plane on the same ports printed a 102-line stack trace.
 */
class StartupSignalsTest {
    @Test
    void theReadyFileNamesBothListenersOnceTheApiServesAndIsRemovedAtShutdown() throws Exception {
        Path dir = Files.createTempDirectory("trellis-ready");
        Path ready = dir.resolve("cp.ready");
        Files.writeString(ready, "stale: from a run that crashed\n");
        EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, Map.of("micronaut.server.port", "-1",
                "trellis.grpc-port", "0", "trellis.data-dir", dir.resolve("data").toString(),
                "trellis.ready-file", ready.toString()));
        try {
            GrpcServer grpc = server.getApplicationContext().getBean(GrpcServer.class);

            assertThat(Files.readString(ready)).isEqualTo("api=" + server.getURL() + "\ngrpc=127.0.0.1:" + grpc.port() + "\n");
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(ready))).isEqualTo("rw-------");
        } finally {
            server.getApplicationContext().close();
        }
        assertThat(ready).doesNotExist();
    }

    @Test
    void aPortAnotherProcessHoldsIsNamedWithItsFlagInOneLine() throws Exception {
        try (ServerSocket held = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            String port = Integer.toString(held.getLocalPort());

            assertThat(Main.portInUse(Map.of("micronaut.server.port", port, "trellis.grpc-port", "0")))
                    .contains("127.0.0.1:" + port + " (--api-port)").contains("another control plane").doesNotContain("\n");
            assertThat(Main.portInUse(Map.of("micronaut.server.port", "0", "trellis.grpc-port", port)))
                    .contains("127.0.0.1:" + port + " (--grpc-port)");
        }
        assertThat(Main.portInUse(Map.of("micronaut.server.port", "0", "trellis.grpc-port", "0"))).isNull();
    }
}
