package io.trellis.sidecar.balance;

import io.trellis.sidecar.config.Endpoint;
import java.util.List;
import java.util.function.DoubleSupplier;
import java.util.function.ToDoubleFunction;

/**
 * Power of two choices: draws two distinct endpoints at random and takes the one with the lower cost. Nearly as
 * good as scanning for the least loaded, without its herding on a single "best" endpoint (Mitzenmacher).
 */
final class PowerOfTwoChoices implements LoadBalancer {
    private final DoubleSupplier random;
    private final ToDoubleFunction<EndpointLoads.Load> cost;

    PowerOfTwoChoices(DoubleSupplier random, ToDoubleFunction<EndpointLoads.Load> cost) {
        this.random = random;
        this.cost = cost;
    }

    @Override
    public Endpoint pick(List<Endpoint> candidates, EndpointLoads loads) {
        int n = candidates.size();
        if (n == 1) {
            return candidates.get(0);
        }
        int first = (int) (random.getAsDouble() * n);
        int second = (first + 1 + (int) (random.getAsDouble() * (n - 1))) % n;
        Endpoint a = candidates.get(first);
        Endpoint b = candidates.get(second);
        return cost.applyAsDouble(loads.of(a)) <= cost.applyAsDouble(loads.of(b)) ? a : b;
    }
}
