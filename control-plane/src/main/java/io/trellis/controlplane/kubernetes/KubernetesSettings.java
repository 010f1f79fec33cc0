package io.trellis.controlplane.kubernetes;

import io.micronaut.context.annotation.ConfigurationProperties;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.core.bind.annotation.Bindable;
import java.net.URI;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * How the control plane reaches the Kubernetes API server to review the service-account tokens sidecars enrol with
 * ({@code trellis.kubernetes.*}).
 *
 * @param apiServer the API server's URL; null = the in-cluster one ({@code KUBERNETES_SERVICE_HOST} and
 *     {@code _PORT}), or none outside a cluster (then only join tokens enrol)
 * @param tokenFile the control plane's own service-account token, read at each review (the kubelet renews it)
 * @param caFile the roots the API server's certificate chains to
 * @param audience the audience sidecars' projected tokens carry and the review asks for
 */
@ConfigurationProperties("trellis.kubernetes")
public record KubernetesSettings(
        @Nullable URI apiServer,
        @Bindable(defaultValue = "/var/run/secrets/kubernetes.io/serviceaccount/token") Path tokenFile,
        @Bindable(defaultValue = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt") Path caFile,
        @Bindable(defaultValue = "trellis") String audience) {

    /** The API server to review tokens with: the configured one, else the cluster's, else none. */
    public Optional<URI> effectiveApiServer(Map<String, String> env) {
        if (apiServer != null) {
            return Optional.of(apiServer);
        }
        String host = env.get("KUBERNETES_SERVICE_HOST");
        String port = env.getOrDefault("KUBERNETES_SERVICE_PORT", "443");
        if (host == null || host.isBlank()) {
            return Optional.empty();
        }
        return Optional.of(URI.create("https://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port));
    }
}
