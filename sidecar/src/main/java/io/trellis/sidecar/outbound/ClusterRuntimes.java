package io.trellis.sidecar.outbound;

import io.trellis.sidecar.config.Cluster;
import io.trellis.sidecar.config.RoutingTable;
import io.trellis.sidecar.config.ServiceName;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * One {@link ClusterRuntime} per cluster, kept across routing tables while the cluster's policy stays the same.
 * Thread-safe: requests look up (and, for a cluster just published, create); table publication prunes.
 */
final class ClusterRuntimes {
    private final ActorSystem<?> system;
    private final ProxyMetrics metrics;
    private final LongSupplier nanoTicker;
    private final ConcurrentHashMap<ServiceName, ClusterRuntime> runtimes = new ConcurrentHashMap<>();

    ClusterRuntimes(ActorSystem<?> system, ProxyMetrics metrics, LongSupplier nanoTicker) {
        this.system = system;
        this.metrics = metrics;
        this.nanoTicker = nanoTicker;
    }

    /** The runtime for {@code cluster} under its current policy. */
    ClusterRuntime of(Cluster cluster) {
        ClusterRuntime runtime = runtimes.get(cluster.name());
        if (runtime != null && runtime.policy().equals(cluster.policy())) {
            return runtime;
        }
        return runtimes.compute(cluster.name(), (name, existing) -> {
            if (existing != null && existing.policy().equals(cluster.policy())) {
                return existing;
            }
            if (existing != null) {
                existing.close();
            }
            return new ClusterRuntime(system, cluster, metrics, nanoTicker);
        });
    }

    /** Brings every runtime in line with {@code table}: gone clusters are closed, endpoints updated. */
    void published(RoutingTable table) {
        runtimes.entrySet().removeIf(entry -> {
            Cluster cluster = table.clusters().get(entry.getKey());
            if (cluster == null || !cluster.policy().equals(entry.getValue().policy())) {
                entry.getValue().close();
                return true;
            }
            entry.getValue().endpointsChanged(cluster);
            return false;
        });
    }

    /** Stops every detector. */
    void closeAll() {
        runtimes.values().forEach(ClusterRuntime::close);
        runtimes.clear();
    }
}
