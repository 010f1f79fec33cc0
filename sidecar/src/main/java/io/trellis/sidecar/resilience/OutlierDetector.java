package io.trellis.sidecar.resilience;

import io.trellis.sidecar.config.ClusterPolicy;
import io.trellis.sidecar.config.Endpoint;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * Ejects one cluster's failing endpoints (Envoy's consecutive-gateway-error detection): an endpoint that reached
 * the threshold leaves balancing for {@code baseEjectionTime} times the number of times it was ejected, unless
 * that would eject more than {@code maxEjectionPercent} of the endpoints (at least one may always go when there
 * are two or more). Every {@code interval} expired ejections end, and endpoints that stayed healthy for an
 * interval have their multiplier lowered by one. Publishes the ejected set to {@link EndpointHealth}.
 */
public final class OutlierDetector extends AbstractBehavior<OutlierDetector.Command> {
    /** Messages. */
    public sealed interface Command {
    }

    /** {@code endpoint} had the threshold of gateway errors in a row. */
    public record ThresholdReached(Endpoint endpoint) implements Command {
    }

    /** The cluster's endpoints changed. */
    public record EndpointsChanged(Set<Endpoint> endpoints) implements Command {
    }

    /** Time to review ejections (sent by the timer; tests send it directly). */
    public enum Review implements Command { INSTANCE }

    /** Asks for the ejected endpoints (after every message sent before this one). */
    public record GetEjected(ActorRef<Set<Endpoint>> replyTo) implements Command {
    }

    /** The cluster or its policy is gone. */
    public enum Stop implements Command { INSTANCE }

    private record Ejection(long until) {
    }

    private final ClusterPolicy.Outlier policy;
    private final EndpointHealth health;
    private final LongSupplier nanoTicker;
    private final Map<Endpoint, Ejection> ejected = new HashMap<>();
    private final Map<Endpoint, Integer> timesEjected = new HashMap<>();
    private Set<Endpoint> endpoints;

    private OutlierDetector(ActorContext<Command> context, ClusterPolicy.Outlier policy, EndpointHealth health,
            Set<Endpoint> endpoints, LongSupplier nanoTicker) {
        super(context);
        this.policy = policy;
        this.health = health;
        this.endpoints = Set.copyOf(endpoints);
        this.nanoTicker = nanoTicker;
    }

    /** A detector for a cluster with {@code endpoints}, publishing its ejections to {@code health}. */
    public static Behavior<Command> create(ClusterPolicy.Outlier policy, EndpointHealth health, Set<Endpoint> endpoints,
            LongSupplier nanoTicker) {
        return Behaviors.setup(context -> Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(Review.INSTANCE, policy.interval());
            return new OutlierDetector(context, policy, health, endpoints, nanoTicker);
        }));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(ThresholdReached.class, this::onThresholdReached)
                .onMessage(EndpointsChanged.class, this::onEndpointsChanged)
                .onMessageEquals(Review.INSTANCE, this::onReview)
                .onMessage(GetEjected.class, this::onGetEjected)
                .onMessageEquals(Stop.INSTANCE, Behaviors::stopped)
                .build();
    }

    private Behavior<Command> onThresholdReached(ThresholdReached message) {
        Endpoint endpoint = message.endpoint();
        if (!endpoints.contains(endpoint) || ejected.containsKey(endpoint) || ejected.size() >= maxEjected()) {
            return this;
        }
        int times = timesEjected.merge(endpoint, 1, Integer::sum);
        ejected.put(endpoint, new Ejection(nanoTicker.getAsLong() + policy.baseEjectionTime().toNanos() * times));
        publish();
        return this;
    }

    private Behavior<Command> onEndpointsChanged(EndpointsChanged message) {
        endpoints = Set.copyOf(message.endpoints());
        ejected.keySet().retainAll(endpoints);
        timesEjected.keySet().retainAll(endpoints);
        publish();
        return this;
    }

    private Behavior<Command> onReview() {
        long now = nanoTicker.getAsLong();
        // Only endpoints that were serving for the whole interval earn a shorter next ejection.
        Set<Endpoint> ejectedDuringInterval = new HashSet<>(ejected.keySet());
        ejected.values().removeIf(ejection -> now - ejection.until() >= 0);
        timesEjected.replaceAll((endpoint, times) -> ejectedDuringInterval.contains(endpoint) ? times : times - 1);
        timesEjected.values().removeIf(times -> times == 0);
        publish();
        return this;
    }

    private Behavior<Command> onGetEjected(GetEjected message) {
        message.replyTo().tell(Set.copyOf(ejected.keySet()));
        return this;
    }

    private int maxEjected() {
        int n = endpoints.size();
        return n < 2 || policy.maxEjectionPercent() == 0 ? 0 : Math.max(1, n * policy.maxEjectionPercent() / 100);
    }

    private void publish() {
        health.publish(ejected.keySet());
    }
}
