package io.trellis.controlplane.kubernetes;

import java.util.Optional;

/** The Kubernetes API server the control plane talks to, when it runs in (or is pointed at) a cluster. */
public record ApiServer(KubernetesApi client) {
    /** The client; empty outside a cluster. */
    public Optional<KubernetesApi> api() {
        return Optional.ofNullable(client);
    }
}
