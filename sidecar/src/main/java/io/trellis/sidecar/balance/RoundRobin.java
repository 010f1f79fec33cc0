package io.trellis.sidecar.balance;

import io.trellis.sidecar.config.Endpoint;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/** Each candidate in turn (endpoint weights are not considered). */
final class RoundRobin implements LoadBalancer {
    private final AtomicInteger next = new AtomicInteger();

    @Override
    public Endpoint pick(List<Endpoint> candidates, EndpointLoads loads) {
        return candidates.get(Math.floorMod(next.getAndIncrement(), candidates.size()));
    }
}
