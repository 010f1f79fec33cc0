package io.trellis.sidecar.balance;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.certs.SpiffeId;
import io.trellis.sidecar.config.ClusterPolicy;
import io.trellis.sidecar.config.Endpoint;
import io.trellis.sidecar.resilience.ManualTicker;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LoadBalancerTest {
    private final ManualTicker ticker = new ManualTicker();
    private final Random random = new Random(42);
    private final EndpointLoads loads = new EndpointLoads(ticker);
    private final Endpoint a = endpoint("10.0.0.1", 1);
    private final Endpoint b = endpoint("10.0.0.2", 1);
    private final Endpoint c = endpoint("10.0.0.3", 1);

    @Test
    void leastRequestAvoidsTheBusiestEndpoint() {
        LoadBalancer balancer = LoadBalancer.of(ClusterPolicy.Balancer.LEAST_REQUEST, random::nextDouble);
        for (int i = 0; i < 10; i++) {
            loads.of(a).started();
        }
        Map<Endpoint, Integer> picks = pick(balancer, List.of(a, b, c), 3000);
        // P2C never picks the busiest of three when the other drawn one is idle: a only when drawn against itself.
        assertThat(picks.getOrDefault(a, 0)).isZero();
        assertThat(picks.get(b)).isBetween(1200, 1800);
    }

    @Test
    void ewmaPrefersTheFasterEndpoint() {
        LoadBalancer balancer = LoadBalancer.of(ClusterPolicy.Balancer.EWMA, random::nextDouble);
        observe(a, Duration.ofMillis(100));
        observe(b, Duration.ofMillis(5));
        Map<Endpoint, Integer> picks = pick(balancer, List.of(a, b), 1000);
        assertThat(picks.get(b)).isEqualTo(1000);
    }

    @Test
    void roundRobinTakesEachInTurn() {
        LoadBalancer balancer = LoadBalancer.of(ClusterPolicy.Balancer.ROUND_ROBIN, random::nextDouble);
        assertThat(List.of(balancer.pick(List.of(a, b, c), loads), balancer.pick(List.of(a, b, c), loads),
                balancer.pick(List.of(a, b, c), loads), balancer.pick(List.of(a, b, c), loads)))
                .containsExactly(a, b, c, a);
    }

    @Test
    void randomFollowsEndpointWeights() {
        Endpoint heavy = endpoint("10.0.0.9", 3);
        LoadBalancer balancer = LoadBalancer.of(ClusterPolicy.Balancer.RANDOM, random::nextDouble);
        Map<Endpoint, Integer> picks = pick(balancer, List.of(a, heavy), 4000);
        assertThat(picks.get(heavy)).isBetween(2800, 3200);
    }

    @Test
    void weightedSplitMatchesTheConfiguredShares() {
        WeightedRandom split = new WeightedRandom(random::nextDouble);
        int canary = 0;
        for (int i = 0; i < 10_000; i++) {
            if (split.choose(List.of("stable", "canary"), s -> s.equals("canary") ? 10 : 90).equals("canary")) {
                canary++;
            }
        }
        assertThat(canary).isBetween(900, 1100);
    }

    private void observe(Endpoint endpoint, Duration latency) {
        EndpointLoads.Load load = loads.of(endpoint);
        long started = load.started();
        ticker.advance(latency);
        load.finished(started);
    }

    private Map<Endpoint, Integer> pick(LoadBalancer balancer, List<Endpoint> candidates, int times) {
        Map<Endpoint, Integer> picks = new HashMap<>();
        for (int i = 0; i < times; i++) {
            picks.merge(balancer.pick(candidates, loads), 1, Integer::sum);
        }
        return picks;
    }

    private static Endpoint endpoint(String address, int weight) {
        return Endpoint.of(address, 15006, SpiffeId.parse("spiffe://cluster.local/ns/default/sa/echo"), Map.of(), weight);
    }
}
