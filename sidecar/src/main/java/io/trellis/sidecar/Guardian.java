package io.trellis.sidecar;

import io.trellis.sidecar.config.ControlPlaneSession;
import io.trellis.sidecar.identity.IdentityRotator;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The root actor: starts the {@link IdentityRotator} and, once a certificate is installed (the Connect stream
 * needs it), the {@link ControlPlaneSession}. Both restart if they crash; requests never pass through them.
 */
final class Guardian {
    private Guardian() {
    }

    /** Messages the guardian handles. */
    interface Command {
    }

    private record CertificateInstalled(IdentityRotator.Issued issued) implements Command {
    }

    /**
     * The guardian.
     *
     * @param rotator builds the rotator, given where to report certificates
     * @param session builds the session
     */
    static Behavior<Command> create(java.util.function.Function<ActorRef<IdentityRotator.Issued>, Behavior<IdentityRotator.Command>> rotator,
            Supplier<Behavior<ControlPlaneSession.Command>> session) {
        return Behaviors.setup(context -> {
            ActorRef<IdentityRotator.Issued> issued = context.messageAdapter(IdentityRotator.Issued.class, CertificateInstalled::new);
            context.spawn(Behaviors.supervise(rotator.apply(issued)).onFailure(SupervisorStrategy.restart()), "identity-rotator");
            return Behaviors.receive(Command.class)
                    .onMessage(CertificateInstalled.class, installed -> {
                        if (context.getChild("control-plane-session").isEmpty()) {
                            context.spawn(Behaviors.supervise(session.get()).onFailure(SupervisorStrategy.restart()),
                                    "control-plane-session");
                        }
                        return Behaviors.same();
                    })
                    .build();
        });
    }
}
