package io.trellis.controlplane.registry;

import java.util.List;
import java.util.Map;

/**
 * What the cluster (Kubernetes) says about services, by {@code namespace/name}: their virtual addresses (ClusterIPs),
 * and the endpoints of their pods that are ready. Outside a cluster there is nothing.
 */
public interface ClusterServices {
    /**
     * One service.
     *
     * @param virtualAddresses its ClusterIPs (none for a headless service)
     * @param endpoints its ready pods' addresses, at the port HTTP reaches it on
     */
    record Service(List<String> virtualAddresses, List<Address> endpoints) {
        /** Copies the lists. */
        public Service {
            virtualAddresses = List.copyOf(virtualAddresses);
            endpoints = List.copyOf(endpoints);
        }
    }

    /** A pod's address and port. */
    record Address(String ip, int port) {
    }

    /** The current services; an immutable snapshot. */
    Map<String, Service> byService();

    /** Runs {@code listener} after each change. */
    void onChange(Runnable listener);

    /** Nothing, and never a change. */
    ClusterServices NONE = new ClusterServices() {
        @Override
        public Map<String, Service> byService() {
            return Map.of();
        }

        @Override
        public void onChange(Runnable listener) {
        }
    };
}
