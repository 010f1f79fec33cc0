package io.trellis.sidecar.kafka;

import io.trellis.sidecar.config.Subscription;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import io.trellis.sidecar.transport.PekkoFutures;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.kafka.javadsl.Consumer;

/**
 * Owns the consumers of this sidecar's subscriptions: on every {@link Apply} (each accepted snapshot) it starts
 * the new ones, drains and restarts the changed ones (the old consumer commits before the new one starts, so the
 * group never holds both), and drains the removed ones. A consumer whose stream fails is restarted after a pause.
 * {@link Drain} (shutdown) drains them all and answers when every offset is committed. Also samples consumer lag
 * for the metrics. Deliveries never pass through this actor.
 */
public final class SubscriptionSupervisor extends AbstractBehavior<SubscriptionSupervisor.Command> {
    /** Messages. */
    public interface Command {
    }

    /**
     * The subscriptions to run, against {@code brokers} (empty = no broker configured: run none).
     */
    public record Apply(List<Subscription> subscriptions, String brokers) implements Command {
    }

    /** Stop every consumer after its deliveries in flight finished and its offsets are committed; then reply. */
    public record Drain(ActorRef<Done> replyTo) implements Command {
    }

    private record Ended(String name, long generation, Throwable failure) implements Command {
    }

    private record Drained(String name, long generation) implements Command {
    }

    private record Restart(String name) implements Command {
    }

    private enum SampleLag implements Command { INSTANCE }

    private static final Duration RESTART_PAUSE = Duration.ofSeconds(2);
    private static final Duration LAG_INTERVAL = Duration.ofSeconds(5);

    private final Function<Subscription, EventDelivery> deliveries;
    private final String clientIdPrefix;
    private final ProxyMetrics metrics;
    private final TimerScheduler<Command> timers;
    private final Map<String, Running> running = new HashMap<>();
    private final List<ActorRef<Done>> drainWaiters = new ArrayList<>();
    private Map<String, Subscription> desired = Map.of();
    private String brokers = "";
    private long generations;
    private boolean draining;

    private static final class Running {
        final Subscription subscription;
        final String brokers;
        final long generation;
        final Consumer.DrainingControl<Done> control;
        boolean stopping;

        Running(Subscription subscription, String brokers, long generation, Consumer.DrainingControl<Done> control) {
            this.subscription = subscription;
            this.brokers = brokers;
            this.generation = generation;
            this.control = control;
        }
    }

    /**
     * The supervisor.
     *
     * @param deliveries builds the delivery (app client, retries, dead letters) of a subscription
     * @param clientIdPrefix prefix of the Kafka client ids (the sidecar's service), for broker-side diagnosis
     */
    public static Behavior<Command> create(Function<Subscription, EventDelivery> deliveries, String clientIdPrefix,
            ProxyMetrics metrics) {
        return Behaviors.setup(context -> Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(SampleLag.INSTANCE, LAG_INTERVAL);
            return new SubscriptionSupervisor(context, timers, deliveries, clientIdPrefix, metrics);
        }));
    }

    private SubscriptionSupervisor(ActorContext<Command> context, TimerScheduler<Command> timers,
            Function<Subscription, EventDelivery> deliveries, String clientIdPrefix, ProxyMetrics metrics) {
        super(context);
        this.timers = timers;
        this.deliveries = deliveries;
        this.clientIdPrefix = clientIdPrefix;
        this.metrics = metrics;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Apply.class, this::onApply)
                .onMessage(Drain.class, this::onDrain)
                .onMessage(Ended.class, this::onEnded)
                .onMessage(Drained.class, this::onDrained)
                .onMessage(Restart.class, restart -> reconcile())
                .onMessageEquals(SampleLag.INSTANCE, this::onSampleLag)
                .build();
    }

    private Behavior<Command> onApply(Apply apply) {
        if (draining) {
            return this;
        }
        Map<String, Subscription> next = new LinkedHashMap<>();
        apply.subscriptions().forEach(s -> next.put(s.name(), s));
        if (!next.isEmpty() && apply.brokers().isEmpty() && !desired.equals(next)) {
            getContext().getLog().warn("subscriptions {} wait: no Kafka brokers are configured (MeshConfig spec.kafka"
                    + ".bootstrapServers, or --kafka-bootstrap)", next.keySet());
        }
        desired = next;
        brokers = apply.brokers();
        return reconcile();
    }

    private Behavior<Command> onDrain(Drain drain) {
        draining = true;
        desired = Map.of();
        drainWaiters.add(drain.replyTo());
        return reconcile();
    }

    private Behavior<Command> reconcile() {
        for (Running current : running.values()) {
            Subscription wanted = desired.get(current.subscription.name());
            boolean keep = wanted != null && wanted.equals(current.subscription) && current.brokers.equals(brokers);
            if (!keep && !current.stopping) {
                current.stopping = true;
                String name = current.subscription.name();
                long generation = current.generation;
                getContext().getLog().info("draining the consumer of subscription {}", name);
                getContext().pipeToSelf(current.control.drainAndShutdown(getContext().getExecutionContext()),
                        (done, error) -> new Drained(name, generation));
            }
        }
        if (!brokers.isEmpty()) {
            for (Subscription wanted : desired.values()) {
                if (!running.containsKey(wanted.name())) {
                    start(wanted);
                }
            }
        }
        if (draining && running.isEmpty()) {
            drainWaiters.forEach(waiter -> waiter.tell(Done.getInstance()));
            drainWaiters.clear();
        }
        return this;
    }

    private void start(Subscription subscription) {
        long generation = ++generations;
        String clientId = clientIdPrefix + "-" + subscription.name() + "-" + generation;
        Consumer.DrainingControl<Done> control = SubscriptionConsumer.start(getContext().getSystem(), subscription, brokers, clientId,
                deliveries.apply(subscription));
        running.put(subscription.name(), new Running(subscription, brokers, generation, control));
        getContext().pipeToSelf(control.streamCompletion(), (done, error) -> new Ended(subscription.name(), generation, error));
        getContext().getLog().info("subscription {}: consuming {} as group {} from {}, delivering to {}", subscription.name(),
                subscription.topics(), subscription.consumerGroup(), brokers, subscription.path());
    }

    private Behavior<Command> onEnded(Ended ended) {
        Running current = running.get(ended.name());
        if (current == null || current.generation != ended.generation() || current.stopping) {
            return this;
        }
        // Neither asked for nor drained: the consumer failed (or the broker ended the stream). Start over from the
        // committed offsets after a pause.
        running.remove(ended.name());
        getContext().getLog().warn("the consumer of subscription {} stopped ({}); restarting in {} s", ended.name(),
                ended.failure() == null ? "completed" : ended.failure().toString(), RESTART_PAUSE.toSeconds());
        current.control.shutdown();
        timers.startSingleTimer(new Restart(ended.name()), RESTART_PAUSE);
        return this;
    }

    private Behavior<Command> onDrained(Drained drained) {
        Running current = running.get(drained.name());
        if (current != null && current.generation == drained.generation()) {
            running.remove(drained.name());
            metrics.consumerLag(drained.name(), 0);
            getContext().getLog().info("the consumer of subscription {} is drained and stopped", drained.name());
        }
        return reconcile();
    }

    private Behavior<Command> onSampleLag() {
        for (Running current : running.values()) {
            String name = current.subscription.name();
            PekkoFutures.direct(current.control.getMetrics()).thenAccept(all -> metrics.consumerLag(name, lag(all)));
        }
        return this;
    }

    /** The sum of records-lag over the consumer's partitions (events in the log not yet fetched). */
    private static long lag(Map<MetricName, Metric> all) {
        double sum = 0;
        for (Map.Entry<MetricName, Metric> entry : all.entrySet()) {
            MetricName name = entry.getKey();
            if (name.name().equals("records-lag") && name.tags().containsKey("partition")
                    && entry.getValue().metricValue() instanceof Double value && !value.isNaN()) {
                sum += value;
            }
        }
        return (long) sum;
    }
}
