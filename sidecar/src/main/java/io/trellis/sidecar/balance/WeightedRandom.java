package io.trellis.sidecar.balance;

import io.trellis.sidecar.config.Endpoint;
import java.util.List;
import java.util.function.DoubleSupplier;
import java.util.function.ToIntFunction;

/** A candidate at random, in proportion to its weight. Also used to pick a route's backend by its weight. */
public final class WeightedRandom implements LoadBalancer {
    private final DoubleSupplier random;

    /** Draws uniform values in [0, 1) from {@code random}. */
    public WeightedRandom(DoubleSupplier random) {
        this.random = random;
    }

    @Override
    public Endpoint pick(List<Endpoint> candidates, EndpointLoads loads) {
        return choose(candidates, Endpoint::weight);
    }

    /** One of {@code items} (not empty), in proportion to {@code weight} (negative counts as 0). */
    public <T> T choose(List<T> items, ToIntFunction<T> weight) {
        if (items.size() == 1) {
            return items.get(0);
        }
        long total = 0;
        for (T item : items) {
            total += Math.max(0, weight.applyAsInt(item));
        }
        double point = random.getAsDouble() * total;
        for (T item : items) {
            point -= Math.max(0, weight.applyAsInt(item));
            if (point < 0) {
                return item;
            }
        }
        return items.get(items.size() - 1);
    }
}
