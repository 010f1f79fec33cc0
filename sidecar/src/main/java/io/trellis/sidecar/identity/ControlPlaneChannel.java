package io.trellis.sidecar.identity;

import io.trellis.certs.MeshTls;
import io.trellis.certs.MeshTrustManager;
import io.trellis.certs.SpiffeId;
import io.trellis.mesh.v1.MeshControlClient;
import java.time.Clock;
import javax.net.ssl.SSLContext;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.grpc.GrpcClientSettings;

/**
 * Opens gRPC clients to the control plane. The server must prove the control plane's identity
 * ({@code spiffe://<td>/ns/trellis-system/sa/control-plane}) against the current trust bundle. A client
 * opened before this sidecar has a certificate presents none (bootstrap with a join token); later clients
 * present the current one (renewal and the Connect stream).
 */
public final class ControlPlaneChannel {
    private final String host;
    private final int port;
    private final WorkloadIdentity identity;
    private final Clock clock;
    private final ActorSystem<?> system;

    /** A channel factory for the control plane at {@code host:port}. */
    public ControlPlaneChannel(String host, int port, WorkloadIdentity identity, Clock clock, ActorSystem<?> system) {
        this.host = host;
        this.port = port;
        this.identity = identity;
        this.clock = clock;
        this.system = system;
    }

    /** The control plane's expected identity in this sidecar's trust domain. */
    public SpiffeId controlPlaneIdentity() {
        return SpiffeId.forWorkload(identity.id().trustDomain(), "trellis-system", "control-plane");
    }

    /**
     * A new client. It presents the current certificate when there is one, none otherwise. The caller closes it.
     */
    public MeshControlClient open() {
        SSLContext tls = identity.current() == null
                ? MeshTls.context(null, MeshTrustManager.expectingServer(identity::trustBundle, clock, controlPlaneIdentity()))
                : identity.clientContext(controlPlaneIdentity());
        GrpcClientSettings settings = GrpcClientSettings.connectToServiceAt(host, port, system)
                .withBackend("pekko-http").withSslContext(tls).withTls(true);
        return MeshControlClient.create(settings, system);
    }
}
