package io.trellis.controlplane.push;

import io.grpc.Status;
import io.trellis.certs.InvalidCsrException;
import io.trellis.certs.IssuedCertificate;
import io.trellis.certs.SpiffeId;
import io.trellis.controlplane.ca.MeshCertificateAuthority;
import io.trellis.controlplane.registry.ProxyInstance;
import io.trellis.controlplane.registry.ProxyRegistry;
import io.trellis.controlplane.registry.Refusal;
import io.trellis.controlplane.registry.RegistrationPolicy;
import io.trellis.controlplane.resource.Labels;
import io.trellis.controlplane.token.BootstrapTokens;
import io.trellis.controlplane.token.TokenReviewUnavailableException;
import io.trellis.controlplane.token.TokenRejectedException;
import io.trellis.mesh.v1.ConfigUpdate;
import io.trellis.mesh.v1.Hello;
import io.trellis.mesh.v1.MeshControlPowerApi;
import io.trellis.mesh.v1.ProxyMessage;
import io.trellis.mesh.v1.SignRequest;
import io.trellis.mesh.v1.SignResponse;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.regex.Pattern;
import org.apache.pekko.NotUsed;
import org.apache.pekko.grpc.GrpcServiceException;
import org.apache.pekko.grpc.javadsl.Metadata;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.SourceQueueWithComplete;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The MeshControl gRPC service. The caller's identity arrives in {@link PeerIdentity#HEADER}, set by
 * the server from the verified TLS client certificate (any client-sent value is stripped first).
 * Store writes (fsync) run on {@code blocking}, never on the stream's threads.
 */
final class MeshControlService implements MeshControlPowerApi {
    private static final Logger LOG = LoggerFactory.getLogger(MeshControlService.class);
    private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
    private static final Pattern ADDRESS = Pattern.compile("[A-Za-z0-9.:\\-\\[\\]]{1,253}");
    private static final int MAX_NACK_ERROR = 1024;

    private final BootstrapTokens tokens;
    private final MeshCertificateAuthority ca;
    private final ProxyRegistry registry;
    private final RegistrationPolicy registrations;
    private final SnapshotPusher pusher;
    private final Materializer materializer;
    private final Executor blocking;
    private final Clock clock;

    MeshControlService(BootstrapTokens tokens, MeshCertificateAuthority ca, ProxyRegistry registry,
            RegistrationPolicy registrations, SnapshotPusher pusher, Materializer materializer, Executor blocking, Clock clock) {
        this.tokens = tokens;
        this.ca = ca;
        this.registry = registry;
        this.registrations = registrations;
        this.pusher = pusher;
        this.materializer = materializer;
        this.blocking = blocking;
        this.clock = clock;
    }

    @Override
    public CompletionStage<SignResponse> signCertificate(SignRequest in, Metadata metadata) {
        Optional<String> peer = metadata.getText(PeerIdentity.HEADER);
        return CompletableFuture.supplyAsync(() -> {
            try {
                SpiffeId identity = authenticate(in, peer);
                if (in.getCsrDer().isEmpty()) {
                    throw status(Status.INVALID_ARGUMENT, "csr_der is empty (expected a DER PKCS#10 request)");
                }
                IssuedCertificate issued = ca.issueWorkload(in.getCsrDer().toByteArray(), identity);
                LOG.info("issued certificate {} for {} (expires {})", issued.serial().toString(16), identity, issued.notAfter());
                return SignResponse.newBuilder()
                        .setCertificateChainPem(issued.chainPem())
                        .setTrustBundlePem(ca.trustBundle().toPem())
                        .setSpiffeId(identity.toString())
                        .setNotAfterEpochSeconds(issued.notAfter().getEpochSecond())
                        .build();
            } catch (TokenRejectedException e) {
                throw status(Status.UNAUTHENTICATED, e.getMessage());
            } catch (TokenReviewUnavailableException e) {
                LOG.warn("enrolment could not be checked: {}", e.getMessage());
                throw status(Status.UNAVAILABLE, e.getMessage());
            } catch (InvalidCsrException e) {
                throw status(Status.INVALID_ARGUMENT, e.getMessage());
            }
        }, blocking).exceptionally(e -> {
            Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            if (cause instanceof GrpcServiceException grpc) {
                throw grpc;
            }
            LOG.error("SignCertificate failed", cause);
            throw status(Status.INTERNAL, "certificate could not be issued");
        });
    }

    private SpiffeId authenticate(SignRequest in, Optional<String> peer)
            throws TokenRejectedException, TokenReviewUnavailableException {
        if (!in.getJoinToken().isEmpty()) {
            return tokens.authenticate(in.getJoinToken());
        }
        if (peer.isPresent()) {
            return SpiffeId.parse(peer.get());
        }
        throw status(Status.UNAUTHENTICATED, "a join token or a mesh client certificate is required");
    }

    @Override
    public Source<ConfigUpdate, NotUsed> connect(Source<ProxyMessage, NotUsed> in, Metadata metadata) {
        Optional<String> peer = metadata.getText(PeerIdentity.HEADER);
        if (peer.isEmpty()) {
            return Source.failed(status(Status.UNAUTHENTICATED,
                    "Connect requires a client certificate issued by the mesh CA"));
        }
        SpiffeId identity = SpiffeId.parse(peer.get());
        String remote = metadata.getText(PeerIdentity.ADDRESS_HEADER).orElse(null);
        Pair<SourceQueueWithComplete<ConfigUpdate>, Source<ConfigUpdate, NotUsed>> out =
                Source.<ConfigUpdate>queue(16, OverflowStrategy.dropHead()).preMaterialize(materializer);
        Stream stream = new Stream(identity, remote, out.first());
        in.runWith(Sink.foreach(stream::onMessage), materializer)
                .whenComplete((done, error) -> stream.end(error));
        out.first().watchCompletion().whenComplete((done, error) -> stream.end(error));
        return out.second();
    }

    /** One Connect stream: waits for Hello, then relays ACKs and NACKs into the registry. */
    private final class Stream {
        private final SpiffeId identity;
        private final String remote;
        private final SourceQueueWithComplete<ConfigUpdate> out;
        private ProxySession session;
        private boolean ended;

        Stream(SpiffeId identity, String remote, SourceQueueWithComplete<ConfigUpdate> out) {
            this.identity = identity;
            this.remote = remote;
            this.out = out;
        }

        synchronized void onMessage(ProxyMessage message) {
            if (ended) {
                return;
            }
            if (session == null) {
                if (!message.hasHello()) {
                    out.fail(status(Status.INVALID_ARGUMENT, "the first message on Connect must be Hello"));
                    return;
                }
                String problem = validate(message.getHello());
                if (problem != null) {
                    out.fail(status(Status.INVALID_ARGUMENT, problem));
                    return;
                }
                Hello hello = message.getHello();
                Optional<String> refused = registrations.refusal(identity, hello.getService(), hello.getAddress(), remote);
                if (refused.isPresent()) {
                    LOG.warn("refused the registration of proxy {} ({}) as {}.{} at {} from {}: {}", hello.getNodeId(), identity,
                            hello.getService(), hello.getNamespace(), hello.getAddress(), remote, refused.get());
                    registry.refused(new Refusal(hello.getNodeId(), hello.getService(), hello.getNamespace(),
                            identity.toString(), hello.getAddress(), remote, refused.get(), clock.instant()));
                    out.fail(status(Status.PERMISSION_DENIED, refused.get()));
                    return;
                }
                ProxyInstance instance = new ProxyInstance(hello.getNodeId(), hello.getService(), hello.getNamespace(),
                        identity, hello.getAddress(), hello.getInboundPort(), hello.getTunnelPort(), hello.getLabelsMap(),
                        hello.getProxyVersion(), clock.instant());
                session = new ProxySession(registry.register(instance), out, hello.getLastAppliedVersion());
                LOG.info("proxy {} connected: {}.{} as {} at {}:{}", hello.getNodeId(), hello.getService(),
                        hello.getNamespace(), identity, hello.getAddress(), hello.getInboundPort());
                pusher.attach(session);
            } else if (message.hasHello()) {
                out.fail(status(Status.INVALID_ARGUMENT, "Hello was already sent on this stream"));
            } else if (message.hasAck()) {
                session.registration().acked(message.getAck().getVersion());
            } else if (message.hasNack()) {
                String error = message.getNack().getError();
                if (error.length() > MAX_NACK_ERROR) {
                    error = error.substring(0, MAX_NACK_ERROR) + "...";
                }
                if (session.registration().nacked(message.getNack().getVersion(), error)) {
                    LOG.warn("proxy {} rejected snapshot {}: {}", session.instance().nodeId(),
                            message.getNack().getVersion(), error);
                }
            }
        }

        private String validate(Hello hello) {
            if (hello.getNodeId().isEmpty() || hello.getNodeId().length() > 253) {
                return "hello.node_id: '" + hello.getNodeId() + "' (expected 1-253 characters)";
            }
            if (!DNS_LABEL.matcher(hello.getService()).matches()) {
                return "hello.service: '" + hello.getService() + "' (expected a DNS label)";
            }
            if (!identity.isWorkload() || !identity.namespace().equals(hello.getNamespace())) {
                return "hello.namespace: '" + hello.getNamespace() + "' (expected the namespace of the client "
                        + "certificate's identity " + identity + ")";
            }
            if (!ADDRESS.matcher(hello.getAddress()).matches()) {
                return "hello.address: '" + hello.getAddress() + "' (expected a host name or IP address)";
            }
            if (hello.getInboundPort() < 1 || hello.getInboundPort() > 65535) {
                return "hello.inbound_port: " + hello.getInboundPort() + " (expected 1-65535)";
            }
            if (hello.getTunnelPort() > 65535) {
                return "hello.tunnel_port: " + hello.getTunnelPort() + " (expected 0-65535; 0 = none)";
            }
            for (var label : hello.getLabelsMap().entrySet()) {
                io.trellis.controlplane.resource.Validation v = new io.trellis.controlplane.resource.Validation();
                Labels.validate(v, "hello.labels", label.getKey(), label.getValue());
                try {
                    v.throwIfInvalid();
                } catch (RuntimeException e) {
                    return e.getMessage();
                }
            }
            return null;
        }

        synchronized void end(Throwable error) {
            if (ended) {
                return;
            }
            ended = true;
            out.complete();
            if (session != null) {
                pusher.detach(session);
                registry.deregister(session.registration());
                LOG.info("proxy {} disconnected{}", session.instance().nodeId(),
                        error == null ? "" : ": " + error.getMessage());
            }
        }
    }

    private static GrpcServiceException status(Status status, String description) {
        return new GrpcServiceException(status.withDescription(description));
    }
}
