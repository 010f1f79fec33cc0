package io.trellis.sidecar.balance;

import io.trellis.sidecar.config.Endpoint;
import io.trellis.sidecar.config.RouteRule;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.DoubleSupplier;

/**
 * Picks the endpoint for one attempt: first a backend of the route rule by weight (a canary split), then an
 * endpoint of that backend's subset by endpoint weight. Stateless; the randomness is injected.
 */
public final class EndpointPicker {
    private final DoubleSupplier random;

    /** A picker drawing uniform values in [0, 1) from {@code random}. */
    public EndpointPicker(DoubleSupplier random) {
        this.random = random;
    }

    /** The endpoint to use, or empty when the chosen subset has none. */
    public Optional<Endpoint> pick(List<Endpoint> endpoints, RouteRule rule) {
        RouteRule.WeightedBackend backend = weighted(rule.backends(), RouteRule.WeightedBackend::weight);
        List<Endpoint> subset = new ArrayList<>();
        for (Endpoint endpoint : endpoints) {
            if (endpoint.matches(backend.subset())) {
                subset.add(endpoint);
            }
        }
        return subset.isEmpty() ? Optional.empty() : Optional.of(weighted(subset, Endpoint::weight));
    }

    private <T> T weighted(List<T> items, java.util.function.ToIntFunction<T> weight) {
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
