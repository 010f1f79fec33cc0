package io.trellis.sidecar.lifecycle;

import io.trellis.sidecar.admin.Readiness;
import io.trellis.sidecar.inbound.InboundServer;
import io.trellis.sidecar.outbound.OutboundServer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * Graceful shutdown (SIGTERM, {@code POST /shutdown}), as tasks in Pekko's coordinated shutdown: readiness
 * turns false, the inbound and TCP ports stop accepting, in-flight requests (both directions) and open TCP
 * connections get up to the drain timeout, as do Kafka deliveries (their offsets are committed), then the remaining
 * listeners and the producer close and the actor system ends.
 */
public final class Drainer {
    private Drainer() {
    }

    /**
     * Registers the drain tasks.
     *
     * @param tcp the opaque-TCP listeners
     * @param drainMessaging finishes deliveries of subscriptions in flight and commits, within the drain timeout
     * @param closeRest closes what is left (admin and API listeners, connection pools) after draining
     */
    public static void register(ActorSystem<?> system, Readiness readiness, InboundServer inbound, OutboundServer outbound,
            List<Drainable> tcp, Duration drainTimeout, Supplier<CompletionStage<?>> drainMessaging, Supplier<CompletionStage<?>> closeRest) {
        CoordinatedShutdown shutdown = CoordinatedShutdown.get(system);
        shutdown.addTask(CoordinatedShutdown.PhaseBeforeServiceUnbind(), "trellis-not-ready", () -> {
            readiness.startDraining();
            return CompletableFuture.completedFuture(Done.getInstance());
        });
        shutdown.addTask(CoordinatedShutdown.PhaseServiceUnbind(), "trellis-stop-accepting-inbound",
                () -> all(Stream.concat(Stream.of(inbound.stopAccepting()), tcp.stream().map(Drainable::stopAccepting))));
        shutdown.addTask(CoordinatedShutdown.PhaseServiceRequestsDone(), "trellis-drain-requests",
                () -> all(Stream.concat(Stream.of(inbound.drain(drainTimeout), outbound.drain(drainTimeout), drainMessaging.get()),
                        tcp.stream().map(listener -> listener.drain(drainTimeout)))));
        shutdown.addTask(CoordinatedShutdown.PhaseServiceStop(), "trellis-close-listeners",
                () -> closeRest.get().thenApply(v -> Done.getInstance()));
    }

    private static CompletionStage<Done> all(Stream<? extends CompletionStage<?>> stages) {
        return CompletableFuture.allOf(stages.map(CompletionStage::toCompletableFuture).toArray(CompletableFuture[]::new))
                .thenApply(v -> Done.getInstance());
    }
}
