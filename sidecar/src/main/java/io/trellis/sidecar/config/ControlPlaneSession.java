package io.trellis.sidecar.config;

import io.trellis.mesh.v1.Ack;
import io.trellis.mesh.v1.ConfigUpdate;
import io.trellis.mesh.v1.Hello;
import io.trellis.mesh.v1.MeshControlClient;
import io.trellis.mesh.v1.Nack;
import io.trellis.mesh.v1.ProxyMessage;
import io.trellis.mesh.v1.Snapshot;
import io.trellis.sidecar.identity.ControlPlaneChannel;
import io.trellis.sidecar.identity.StateDirectory;
import io.trellis.sidecar.identity.WorkloadIdentity;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * Owns the {@code Connect} stream to the control plane: says Hello, applies each snapshot (accepted whole and
 * published with one swap, or rejected whole with a NACK while the last good one stays), ACKs, persists the
 * accepted snapshot, and reconnects with jittered exponential backoff whenever the stream ends.
 */
public final class ControlPlaneSession extends AbstractBehavior<ControlPlaneSession.Command> {
    /** Messages the session handles. */
    public interface Command {
    }

    private enum Reconnect implements Command { INSTANCE }

    private record Received(int generation, ConfigUpdate update) implements Command {
    }

    private record Ended(int generation, Throwable error) implements Command {
    }

    private final ControlPlaneChannel channel;
    private final Hello hello;
    private final SnapshotTranslator translator;
    private final RoutingTableRef tables;
    private final WorkloadIdentity identity;
    private final StateDirectory state;
    private final ProxyMetrics metrics;
    private final Backoff backoff;
    private final Executor blocking;
    private final TimerScheduler<Command> timers;
    private int generation;
    private int failures;
    private MeshControlClient client;
    private BoundedSourceQueue<ProxyMessage> outgoing;

    private ControlPlaneSession(ActorContext<Command> context, TimerScheduler<Command> timers, ControlPlaneChannel channel,
            Hello hello, SnapshotTranslator translator, RoutingTableRef tables, WorkloadIdentity identity, StateDirectory state,
            ProxyMetrics metrics, Backoff backoff, Executor blocking) {
        super(context);
        this.timers = timers;
        this.channel = channel;
        this.hello = hello;
        this.translator = translator;
        this.tables = tables;
        this.identity = identity;
        this.state = state;
        this.metrics = metrics;
        this.backoff = backoff;
        this.blocking = blocking;
    }

    /**
     * A session that connects at once.
     *
     * @param hello the Hello to open every stream with (its last applied version is updated per stream)
     * @param blocking where snapshots are written to the state directory; must run tasks in order (one thread)
     */
    public static Behavior<Command> create(ControlPlaneChannel channel, Hello hello, SnapshotTranslator translator,
            RoutingTableRef tables, WorkloadIdentity identity, StateDirectory state, ProxyMetrics metrics, Backoff backoff,
            Executor blocking) {
        return Behaviors.setup(context -> Behaviors.withTimers(timers -> {
            ControlPlaneSession session = new ControlPlaneSession(context, timers, channel, hello, translator, tables,
                    identity, state, metrics, backoff, blocking);
            context.getSelf().tell(Reconnect.INSTANCE);
            return session;
        }));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessageEquals(Reconnect.INSTANCE, this::onReconnect)
                .onMessage(Received.class, this::onReceived)
                .onMessage(Ended.class, this::onEnded)
                .onSignal(org.apache.pekko.actor.typed.PostStop.class, signal -> onStop())
                .build();
    }

    private Behavior<Command> onReconnect() {
        closeStream();
        int current = ++generation;
        client = channel.open();
        Pair<BoundedSourceQueue<ProxyMessage>, Source<ProxyMessage, NotUsed>> queue =
                Source.<ProxyMessage>queue(16).preMaterialize(getContext().getSystem());
        outgoing = queue.first();
        long lastApplied = tables.current().map(RoutingTable::version).orElse(0L);
        outgoing.offer(ProxyMessage.newBuilder().setHello(hello.toBuilder().setLastAppliedVersion(lastApplied)).build());
        var self = getContext().getSelf();
        client.connect(queue.second())
                .runWith(Sink.foreach(update -> self.tell(new Received(current, update))), getContext().getSystem())
                .whenComplete((done, error) -> self.tell(new Ended(current, error)));
        return this;
    }

    private Behavior<Command> onReceived(Received received) {
        if (received.generation() != generation || !received.update().hasSnapshot()) {
            return this;
        }
        failures = 0;
        Snapshot snapshot = received.update().getSnapshot();
        try {
            RoutingTable table = translator.translate(snapshot);
            apply(table);
            byte[] bytes = snapshot.toByteArray();
            CompletableFuture.runAsync(() -> save(bytes), blocking).exceptionally(error -> {
                getContext().getSystem().log().warn("could not save snapshot {}: {}", snapshot.getVersion(), error.toString());
                return null;
            });
            send(ProxyMessage.newBuilder().setAck(Ack.newBuilder().setVersion(snapshot.getVersion())).build());
        } catch (InvalidSnapshotException e) {
            metrics.configRejected();
            getContext().getLog().warn("rejected snapshot {}: {}", snapshot.getVersion(), e.getMessage());
            send(ProxyMessage.newBuilder()
                    .setNack(Nack.newBuilder().setVersion(snapshot.getVersion()).setError(e.getMessage())).build());
        }
        return this;
    }

    /** Publishes an accepted table: the trust bundle first, so routes never name peers we cannot verify yet. */
    private void apply(RoutingTable table) {
        identity.updateTrustBundle(table.trustBundle());
        tables.publish(table);
        metrics.configApplied(table.version());
        getContext().getLog().info("applied snapshot {} ({} clusters)", table.version(), table.clusters().size());
    }

    private Behavior<Command> onEnded(Ended ended) {
        if (ended.generation() != generation) {
            return this;
        }
        Duration wait = backoff.delay(failures++);
        getContext().getLog().warn("control-plane stream ended ({}); reconnecting in {} ms",
                ended.error() == null ? "closed by the server" : ended.error().toString(), wait.toMillis());
        timers.startSingleTimer(Reconnect.INSTANCE, wait);
        return this;
    }

    private void send(ProxyMessage message) {
        if (outgoing != null) {
            outgoing.offer(message);
        }
    }

    private Behavior<Command> onStop() {
        closeStream();
        return this;
    }

    private void closeStream() {
        if (outgoing != null) {
            try {
                outgoing.complete();
            } catch (IllegalStateException alreadyOver) {
                // The stream ended on its own (the control plane went away): nothing left to complete.
            }
            outgoing = null;
        }
        if (client != null) {
            client.close();
            client = null;
        }
    }

    private void save(byte[] snapshot) {
        try {
            state.saveSnapshot(snapshot);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
