package io.trellis.sidecar.lifecycle;

import io.trellis.sidecar.admin.Readiness;
import io.trellis.sidecar.inbound.InboundServer;
import io.trellis.sidecar.outbound.OutboundServer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * Graceful shutdown (SIGTERM, {@code POST /shutdown}), as tasks in Pekko's coordinated shutdown: readiness
 * turns false, the inbound port stops accepting, in-flight requests (both directions) get up to the drain
 * timeout, as do Kafka deliveries (their offsets are committed), then the remaining listeners and the producer close
 * and the actor system ends.
 */
public final class Drainer {
    private Drainer() {
    }

    /**
     * Registers the drain tasks.
     *
     * @param drainMessaging finishes deliveries of subscriptions in flight and commits, within the drain timeout
     * @param closeRest closes what is left (admin and API listeners, connection pools) after draining
     */
    public static void register(ActorSystem<?> system, Readiness readiness, InboundServer inbound, OutboundServer outbound,
            Duration drainTimeout, Supplier<CompletionStage<?>> drainMessaging, Supplier<CompletionStage<?>> closeRest) {
        CoordinatedShutdown shutdown = CoordinatedShutdown.get(system);
        shutdown.addTask(CoordinatedShutdown.PhaseBeforeServiceUnbind(), "trellis-not-ready", () -> {
            readiness.startDraining();
            return CompletableFuture.completedFuture(Done.getInstance());
        });
        shutdown.addTask(CoordinatedShutdown.PhaseServiceUnbind(), "trellis-stop-accepting-inbound",
                () -> inbound.stopAccepting().thenApply(v -> Done.getInstance()));
        shutdown.addTask(CoordinatedShutdown.PhaseServiceRequestsDone(), "trellis-drain-requests",
                () -> CompletableFuture.allOf(inbound.drain(drainTimeout).toCompletableFuture(),
                        outbound.drain(drainTimeout).toCompletableFuture(), drainMessaging.get().toCompletableFuture())
                        .thenApply(v -> Done.getInstance()));
        shutdown.addTask(CoordinatedShutdown.PhaseServiceStop(), "trellis-close-listeners",
                () -> closeRest.get().thenApply(v -> Done.getInstance()));
    }
}
