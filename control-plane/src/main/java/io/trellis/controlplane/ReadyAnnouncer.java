package io.trellis.controlplane;

import io.micronaut.context.annotation.Context;
import io.micronaut.context.event.ApplicationEventListener;
import io.micronaut.context.event.ShutdownEvent;
import io.micronaut.runtime.event.annotation.EventListener;
import io.micronaut.runtime.server.event.ServerStartupEvent;
import io.trellis.certs.ReadyFile;
import io.trellis.controlplane.push.GrpcServer;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.URL;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells people and scripts when the control plane serves: once the REST API listens (the gRPC listener is bound
 * before it, at context start), one line per listener and one "ready" line, and the {@code --ready-file} written
 * with the two addresses ({@code api=URL}, {@code grpc=HOST:PORT}). A stale file is removed as the context starts
 * and the file at shutdown, so its presence means this process is up.
 */
@Context
final class ReadyAnnouncer implements ApplicationEventListener<ServerStartupEvent> {
    private static final Logger LOG = LoggerFactory.getLogger(ReadyAnnouncer.class);

    private final ControlPlaneConfig config;
    private final GrpcServer grpc;
    private final ReadyFile readyFile;

    ReadyAnnouncer(ControlPlaneConfig config, GrpcServer grpc) throws IOException {
        this.config = config;
        this.grpc = grpc;
        this.readyFile = ReadyFile.at(config.readyFile());
    }

    @Override
    public void onApplicationEvent(ServerStartupEvent event) {
        URL api = event.getSource().getURL();
        String grpcAddress = grpc.localAddress().getHostString() + ":" + grpc.port();
        LOG.info("REST API listening on {}", api);
        if (event.getSource() instanceof io.micronaut.http.server.netty.NettyEmbeddedServer netty
                && netty.getBoundPorts().size() > 1) {
            // HTTP and HTTPS at once (the chart's webhook): say every port.
            LOG.info("REST API ports: {}", netty.getBoundPorts());
        }
        LOG.info("control plane ready in {} ms: REST API {}, MeshControl gRPC {} (TLS), data dir {}",
                ManagementFactory.getRuntimeMXBean().getUptime(), api, grpcAddress, config.dataDir());
        readyFile.announce("api=" + api + "\ngrpc=" + grpcAddress + "\n");
    }

    @EventListener
    void stopping(ShutdownEvent event) {
        readyFile.withdraw();
    }
}
