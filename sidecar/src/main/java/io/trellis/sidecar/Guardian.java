package io.trellis.sidecar;

import io.trellis.sidecar.config.ControlPlaneSession;
import io.trellis.sidecar.identity.IdentityRotator;
import io.trellis.mesh.v1.Hello;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The root actor: starts the {@link IdentityRotator} at once (enrolment runs while the listeners bind) and, once a
 * certificate is installed (the Connect stream needs it) and the listeners are bound (the Hello announces their
 * ports), the {@link ControlPlaneSession}. Both restart if they crash; requests never pass through them.
 */
final class Guardian {
    private Guardian() {
    }

    /** Messages the guardian handles. */
    interface Command {
    }

    /** The listeners are bound: the session may announce {@code hello}. */
    record ListenersBound(Hello hello) implements Command {
    }

    private record CertificateInstalled(IdentityRotator.Issued issued) implements Command {
    }

    /**
     * The guardian.
     *
     * @param rotator builds the rotator, given where to report certificates
     * @param session builds the session, given the Hello it announces
     */
    static Behavior<Command> create(java.util.function.Function<ActorRef<IdentityRotator.Issued>, Behavior<IdentityRotator.Command>> rotator,
            Function<Hello, Behavior<ControlPlaneSession.Command>> session) {
        return Behaviors.setup(context -> {
            ActorRef<IdentityRotator.Issued> issued = context.messageAdapter(IdentityRotator.Issued.class, CertificateInstalled::new);
            context.spawn(Behaviors.supervise(rotator.apply(issued)).onFailure(SupervisorStrategy.restart()), "identity-rotator");
            return waiting(session, false, null);
        });
    }

    private static Behavior<Command> waiting(Function<Hello, Behavior<ControlPlaneSession.Command>> session, boolean installed,
            Hello hello) {
        if (installed && hello != null) {
            return Behaviors.setup(context -> {
                context.spawn(Behaviors.supervise(session.apply(hello)).onFailure(SupervisorStrategy.restart()),
                        "control-plane-session");
                return Behaviors.ignore();    // later certificates are the rotator's and the session's business
            });
        }
        return Behaviors.receive(Command.class)
                .onMessage(CertificateInstalled.class, first -> waiting(session, true, hello))
                .onMessage(ListenersBound.class, bound -> waiting(session, installed, bound.hello()))
                .build();
    }
}
