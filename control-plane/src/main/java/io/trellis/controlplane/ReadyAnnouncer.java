package io.trellis.controlplane;

import io.micronaut.context.annotation.Context;
import io.micronaut.context.event.ApplicationEventListener;
import io.micronaut.context.event.ShutdownEvent;
import io.micronaut.runtime.event.annotation.EventListener;
import io.micronaut.runtime.server.event.ServerStartupEvent;
import io.trellis.certs.OwnerOnlyFiles;
import io.trellis.controlplane.push.GrpcServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.URL;
import java.nio.file.Files;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells people and scripts when the control plane serves: once the REST API listens (the gRPC listener is bound
 * before it, at context start), one line per listener and one "ready" line, and the {@code --ready-file} written
 * with the two addresses ({@code api=URL}, {@code grpc=HOST:PORT}). The file is removed at shutdown, and a stale
 * one from an earlier run is removed as the context starts, so its presence means this process is up.
 */
@Context
final class ReadyAnnouncer implements ApplicationEventListener<ServerStartupEvent> {
    private static final Logger LOG = LoggerFactory.getLogger(ReadyAnnouncer.class);

    private final ControlPlaneConfig config;
    private final GrpcServer grpc;

    ReadyAnnouncer(ControlPlaneConfig config, GrpcServer grpc) {
        this.config = config;
        this.grpc = grpc;
        if (config.readyFile() != null) {
            try {
                Files.deleteIfExists(config.readyFile());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot remove the stale ready file " + config.readyFile(), e);
            }
        }
    }

    @Override
    public void onApplicationEvent(ServerStartupEvent event) {
        URL api = event.getSource().getURL();
        String grpcAddress = grpc.localAddress().getHostString() + ":" + grpc.port();
        LOG.info("REST API listening on {}", api);
        LOG.info("control plane ready in {} ms: REST API {}, MeshControl gRPC {} (TLS), data dir {}",
                ManagementFactory.getRuntimeMXBean().getUptime(), api, grpcAddress, config.dataDir());
        if (config.readyFile() != null) {
            try {
                OwnerOnlyFiles.write(config.readyFile(), "api=" + api + "\ngrpc=" + grpcAddress + "\n");
            } catch (IOException e) {
                LOG.error("could not write the ready file {}: {}", config.readyFile(), e.toString());
            }
        }
    }

    @EventListener
    void stopping(ShutdownEvent event) {
        if (config.readyFile() != null) {
            try {
                Files.deleteIfExists(config.readyFile());
            } catch (IOException e) {
                LOG.warn("could not remove the ready file {}: {}", config.readyFile(), e.toString());
            }
        }
    }
}
