package io.trellis.controlplane.registry;

import java.util.List;
import java.util.Map;

/**
 * The virtual addresses of services (Kubernetes ClusterIPs), by {@code namespace/name}: a connection an app makes to
 * one of them is for that service. Outside a cluster there are none.
 */
public interface ServiceAddresses {
    /** The current addresses, by {@code namespace/name}; an immutable snapshot. */
    Map<String, List<String>> byService();

    /** Runs {@code listener} after each change. */
    void onChange(Runnable listener);

    /** None, and never a change. */
    ServiceAddresses NONE = new ServiceAddresses() {
        @Override
        public Map<String, List<String>> byService() {
            return Map.of();
        }

        @Override
        public void onChange(Runnable listener) {
        }
    };
}
