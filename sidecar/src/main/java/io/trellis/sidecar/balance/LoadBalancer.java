package io.trellis.sidecar.balance;

import io.trellis.sidecar.config.ClusterPolicy;
import io.trellis.sidecar.config.Endpoint;
import java.util.List;
import java.util.function.DoubleSupplier;

/** Picks the endpoint of one attempt among the healthy candidates of a cluster. Implementations are thread-safe. */
public interface LoadBalancer {
    /** One of {@code candidates} (never empty), judged by their current {@code loads}. */
    Endpoint pick(List<Endpoint> candidates, EndpointLoads loads);

    /** The balancer {@code kind} names, drawing uniform values in [0, 1) from {@code random}. */
    static LoadBalancer of(ClusterPolicy.Balancer kind, DoubleSupplier random) {
        return switch (kind) {
            case LEAST_REQUEST -> new PowerOfTwoChoices(random, EndpointLoads.Load::inFlightPerWeight);
            case EWMA -> new PowerOfTwoChoices(random, EndpointLoads.Load::latencyCost);
            case ROUND_ROBIN -> new RoundRobin();
            case RANDOM -> new WeightedRandom(random);
        };
    }
}
