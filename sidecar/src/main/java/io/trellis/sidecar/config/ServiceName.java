package io.trellis.sidecar.config;

/**
 * A service's name within its namespace: the key of clusters and routes.
 *
 * @param name the service name
 * @param namespace its namespace
 */
public record ServiceName(String name, String namespace) {
    @Override
    public String toString() {
        return name + "." + namespace;
    }
}
