package io.trellis.sidecar.identity;

import com.google.protobuf.ByteString;
import io.trellis.certs.CsrFactory;
import io.trellis.certs.KeyMaterial;
import io.trellis.certs.Pem;
import io.trellis.certs.PeerCertificateVerifier;
import io.trellis.certs.SpiffeId;
import io.trellis.certs.TrustBundle;
import io.trellis.mesh.v1.MeshControlClient;
import io.trellis.mesh.v1.SignRequest;
import io.trellis.mesh.v1.SignResponse;
import io.trellis.sidecar.config.Backoff;
import io.trellis.sidecar.errors.Causes;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * Owns the sidecar's key and certificate: obtains the first one (from the state directory if still valid,
 * otherwise CSR + join token), renews at half the lifetime over mTLS, retries with backoff, and installs
 * each new certificate into {@link WorkloadIdentity} in one swap. The key is generated in memory and written
 * only to the state directory (0600). Tells {@code issued} after every installation.
 */
public final class IdentityRotator extends AbstractBehavior<IdentityRotator.Command> {
    /** Messages the rotator handles. */
    public interface Command {
    }

    /** Time to obtain or renew the certificate. */
    private enum Renew implements Command { INSTANCE }

    /**
     * Lets code outside the actor ask for an immediate renewal (the local API's {@code POST /v1/identity/renew},
     * for an operator who suspects a key was exposed). Thread-safe; a no-op until the rotator has started.
     */
    public static final class RenewTrigger {
        private volatile ActorRef<Command> rotator;

        /** Asks for a renewal now; false when the rotator is not running yet. */
        public boolean renewNow() {
            ActorRef<Command> target = rotator;
            if (target == null) {
                return false;
            }
            target.tell(Renew.INSTANCE);
            return true;
        }
    }

    private record Signed(KeyMaterial material, TrustBundle bundle) implements Command {
    }

    private record SignFailed(Throwable cause) implements Command {
    }

    /** Told to the listener after each certificate is installed. */
    public record Issued(Instant notAfter) {
    }

    private final WorkloadIdentity identity;
    private final StateDirectory state;
    private final ControlPlaneChannel channel;
    private final Path tokenFile;
    private final Clock clock;
    private final Backoff backoff;
    private final Executor blocking;
    private final ActorRef<Issued> listener;
    private final TimerScheduler<Command> timers;
    private int failures;

    private IdentityRotator(ActorContext<Command> context, TimerScheduler<Command> timers, WorkloadIdentity identity,
            StateDirectory state, ControlPlaneChannel channel, Path tokenFile, Clock clock, Backoff backoff,
            Executor blocking, ActorRef<Issued> listener) {
        super(context);
        this.timers = timers;
        this.identity = identity;
        this.state = state;
        this.channel = channel;
        this.tokenFile = tokenFile;
        this.clock = clock;
        this.backoff = backoff;
        this.blocking = blocking;
        this.listener = listener;
    }

    /**
     * The rotator. It installs a saved, unexpired certificate at once (static stability), then renews it when
     * due; with none it enrols immediately.
     *
     * @param blocking where file and key-generation work runs (never on the actor's thread)
     * @param trigger set to this rotator, for on-demand renewals
     */
    public static Behavior<Command> create(WorkloadIdentity identity, StateDirectory state, ControlPlaneChannel channel,
            Path tokenFile, Clock clock, Backoff backoff, Executor blocking, ActorRef<Issued> listener, RenewTrigger trigger) {
        return Behaviors.setup(context -> Behaviors.withTimers(timers -> {
            trigger.rotator = context.getSelf();
            IdentityRotator rotator = new IdentityRotator(context, timers, identity, state, channel, tokenFile, clock,
                    backoff, blocking, listener);
            rotator.start();
            return rotator;
        }));
    }

    private void start() {
        if (identity.isIssued()) {
            scheduleRenewal(identity.current());
            listener.tell(new Issued(identity.notAfter()));
        } else {
            getContext().getSelf().tell(Renew.INSTANCE);
        }
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessageEquals(Renew.INSTANCE, this::onRenew)
                .onMessage(Signed.class, this::onSigned)
                .onMessage(SignFailed.class, this::onSignFailed)
                .build();
    }

    private Behavior<Command> onRenew() {
        getContext().pipeToSelf(sign(), (signed, error) -> error == null ? signed : new SignFailed(error));
        return this;
    }

    private Behavior<Command> onSigned(Signed signed) {
        failures = 0;
        identity.install(signed.material());
        identity.updateTrustBundle(signed.bundle());
        CompletableFuture.runAsync(() -> persist(signed), blocking).exceptionally(error -> {
            getContext().getSystem().log().warn("could not save the new certificate to {}: {}", state.path(), error.toString());
            return null;
        });
        getContext().getLog().info("certificate for {} installed; expires {}", identity.id(), signed.material().notAfter());
        scheduleRenewal(signed.material());
        listener.tell(new Issued(signed.material().notAfter()));
        return this;
    }

    private Behavior<Command> onSignFailed(SignFailed failed) {
        Duration wait = backoff.delay(failures++);
        getContext().getLog().warn("could not obtain a certificate for {} (attempt {}), retrying in {} ms: {}",
                identity.id(), failures, wait.toMillis(), Causes.rootMessage(failed.cause()));
        timers.startSingleTimer(Renew.INSTANCE, wait);
        return this;
    }

    private void scheduleRenewal(KeyMaterial material) {
        timers.startSingleTimer(Renew.INSTANCE, renewalDelay(material, clock.instant()));
    }

    /** How long from {@code now} until {@code material} is due for renewal: half its lifetime; zero if past. */
    static Duration renewalDelay(KeyMaterial material, Instant now) {
        Instant notBefore = material.notBefore();
        Instant due = notBefore.plus(Duration.between(notBefore, material.notAfter()).dividedBy(2));
        Duration wait = Duration.between(now, due);
        return wait.isNegative() ? Duration.ZERO : wait;
    }

    private record Enrolment(KeyPair keys, SignRequest request) {
    }

    /** Key generation, CSR and the gRPC call; completes off the actor's thread. */
    private CompletionStage<Signed> sign() {
        boolean renewal = identity.isIssued();
        return CompletableFuture.supplyAsync(() -> {
            KeyPair keys = CsrFactory.generateKeyPair();
            String token = renewal ? "" : readToken();
            return new Enrolment(keys, SignRequest.newBuilder()
                    .setCsrDer(ByteString.copyFrom(CsrFactory.createCsr(keys, identity.id())))
                    .setJoinToken(token).build());
        }, blocking).thenCompose(enrolment -> {
            MeshControlClient client = channel.open();
            return client.signCertificate(enrolment.request())
                    .whenComplete((response, error) -> client.close())
                    .thenApply(response -> toSigned(enrolment.keys(), response));
        });
    }

    /** Checks the answer before anything is installed: our key, our identity, a chain to the bundle. */
    private Signed toSigned(KeyPair keys, SignResponse response) {
        try {
            KeyMaterial material = new KeyMaterial(keys.getPrivate(), Pem.decodeCertificates(response.getCertificateChainPem()));
            if (!material.leaf().getPublicKey().equals(keys.getPublic())) {
                throw new IllegalStateException("the control plane signed a different key");
            }
            TrustBundle bundle = TrustBundle.fromPem(identity.id().trustDomain(), response.getTrustBundlePem());
            SpiffeId issued = PeerCertificateVerifier.verify(material.chain(), bundle, PeerCertificateVerifier.PeerRole.CLIENT,
                    clock.instant());
            if (!issued.equals(identity.id())) {
                throw new IllegalStateException("the control plane issued " + issued + ", expected " + identity.id()
                        + " (does the join token belong to another service account?)");
            }
            return new Signed(material, bundle);
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("the control plane returned an unusable certificate: " + e.getMessage(), e);
        }
    }

    private String readToken() {
        try {
            String token = Files.readString(tokenFile, StandardCharsets.UTF_8).strip();
            if (token.isEmpty()) {
                throw new IllegalStateException("--token-file " + tokenFile + " is empty");
            }
            return token;
        } catch (java.io.IOException e) {
            throw new IllegalStateException("cannot read --token-file " + tokenFile + ": " + e.getMessage(), e);
        }
    }

    private void persist(Signed signed) {
        try {
            state.saveIdentity(signed.material());
            state.saveTrustBundle(signed.bundle().toPem());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
