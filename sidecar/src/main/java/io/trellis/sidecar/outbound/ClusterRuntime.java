package io.trellis.sidecar.outbound;

import io.trellis.sidecar.balance.EndpointLoads;
import io.trellis.sidecar.balance.LoadBalancer;
import io.trellis.sidecar.config.Cluster;
import io.trellis.sidecar.config.ClusterPolicy;
import io.trellis.sidecar.config.Endpoint;
import io.trellis.sidecar.resilience.CircuitBreaker;
import io.trellis.sidecar.resilience.EndpointHealth;
import io.trellis.sidecar.resilience.OutlierDetector;
import io.trellis.sidecar.resilience.RetryBudget;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import java.util.HashSet;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import java.util.stream.Collectors;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;

/**
 * The live state of calling one cluster under one policy: retry budget, circuit breaker, active-request count,
 * endpoint loads and outlier ejections. It outlives routing tables (a new snapshot with the same policy keeps
 * it) and is replaced when the cluster's policy changes. The request path reads and counts; the
 * {@link OutlierDetector} actor it owns decides ejections.
 */
final class ClusterRuntime {
    private static final AtomicInteger SEQUENCE = new AtomicInteger();

    private final ClusterPolicy policy;
    private final RetryBudget budget;
    /** One breaker per backend set (a route backend's subset labels; empty for the whole service), made on first use. */
    private final ConcurrentHashMap<Map<String, String>, CircuitBreaker> breakers = new ConcurrentHashMap<>();
    private final ProxyMetrics metrics;
    private final LongSupplier nanoTicker;
    private final String service;
    private final EndpointLoads loads;
    private final EndpointHealth health;
    private final LoadBalancer balancer;
    private final AtomicInteger active = new AtomicInteger();
    private final ActorRef<OutlierDetector.Command> detector;

    ClusterRuntime(ActorSystem<?> system, Cluster cluster, ProxyMetrics metrics, LongSupplier nanoTicker) {
        this.policy = cluster.policy();
        this.budget = new RetryBudget(policy.retries().budgetRatio(), policy.retries().budgetMinPerSecond(), nanoTicker);
        String service = cluster.name().name();
        this.service = service;
        this.metrics = metrics;
        this.nanoTicker = nanoTicker;
        this.loads = new EndpointLoads(nanoTicker);
        this.balancer = LoadBalancer.of(policy.balancer(), () -> ThreadLocalRandom.current().nextDouble());
        this.health = new EndpointHealth(policy.outlier().consecutiveErrors(),
                ejected -> metrics.endpointsEjected(service, ejected));
        this.detector = system.systemActorOf(OutlierDetector.create(policy.outlier(), health,
                new HashSet<>(cluster.endpoints()), nanoTicker),
                "outlier-" + cluster.name().name() + "-" + cluster.name().namespace() + "-" + SEQUENCE.incrementAndGet(),
                Props.empty());
    }

    ClusterPolicy policy() {
        return policy;
    }

    RetryBudget budget() {
        return budget;
    }

    /**
     * The breaker of the backend set {@code subset}: a failing subset trips only its own, so traffic routed to
     * another subset keeps flowing.
     */
    CircuitBreaker breaker(Map<String, String> subset) {
        CircuitBreaker existing = breakers.get(subset);
        return existing != null ? existing : breakers.computeIfAbsent(subset, this::newBreaker);
    }

    private CircuitBreaker newBreaker(Map<String, String> subset) {
        String label = subset.isEmpty() ? "all" : new TreeMap<>(subset).entrySet().stream()
                .map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(","));
        // The gauge moves on transitions only, never per request.
        return new CircuitBreaker(policy.breaker(), nanoTicker, state -> metrics.breakerState(service, label, switch (state) {
            case CLOSED -> 0;
            case OPEN -> 1;
            case HALF_OPEN -> 2;
        }));
    }

    EndpointLoads loads() {
        return loads;
    }

    EndpointHealth health() {
        return health;
    }

    LoadBalancer balancer() {
        return balancer;
    }

    /** Records an attempt's outcome at {@code endpoint} for outlier detection. */
    void attemptEnded(Endpoint endpoint, boolean gatewayError) {
        if (health.record(endpoint, gatewayError)) {
            detector.tell(new OutlierDetector.ThresholdReached(endpoint));
        }
    }

    /** Takes one of {@code maxRequests} slots; false (nothing taken) when all are in use. */
    boolean tryStartRequest() {
        if (active.incrementAndGet() > policy.limits().maxRequests()) {
            active.decrementAndGet();
            return false;
        }
        return true;
    }

    /** Gives a slot back. */
    void requestFinished() {
        active.decrementAndGet();
    }

    /** The cluster's endpoints changed (same policy). */
    void endpointsChanged(Cluster cluster) {
        HashSet<Endpoint> endpoints = new HashSet<>(cluster.endpoints());
        loads.retainOnly(endpoints);
        detector.tell(new OutlierDetector.EndpointsChanged(endpoints));
    }

    /** Stops the detector; requests still holding this runtime keep working without ejections changing. */
    void close() {
        detector.tell(OutlierDetector.Stop.INSTANCE);
    }
}
