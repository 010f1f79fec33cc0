package io.trellis.controlplane.inject;

import io.micronaut.context.annotation.ConfigurationProperties;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.core.bind.annotation.Bindable;
import java.util.regex.Pattern;

/**
 * What the injector puts into a pod ({@code trellis.injector.*}; the Helm chart sets them), bound once at start.
 *
 * @param enabled serve {@code POST /inject}; off unless the control plane runs as a cluster's injector
 * @param proxyImage the sidecar's image (its entrypoint is the {@code trellis} launcher)
 * @param initImage the image of {@code trellis-init}, which runs {@code trellis init-iptables}
 * @param nativeSidecar inject the proxy as a native sidecar (an init container with {@code restartPolicy: Always},
 *     Kubernetes 1.29 and later); false = a classic container, for older clusters
 * @param controlPlane HOST:PORT of the control plane's gRPC listener as the pods reach it
 * @param cpuRequest the proxy's CPU request unless the pod's {@code trellis.io/proxy-cpu} says otherwise
 * @param memoryRequest the proxy's memory request (and limit) unless {@code trellis.io/proxy-memory} says otherwise
 * @param memoryLimit the proxy's memory limit when the pod does not set {@code trellis.io/proxy-memory}
 * @param jvmOptions the proxy's JVM options ({@code TRELLIS_JAVA_OPTS}); empty = the launcher's measured defaults
 * @param tokenAudience the audience of the projected service-account token the proxy bootstraps with
 */
@ConfigurationProperties("trellis.injector")
public record InjectorSettings(
        @Bindable(defaultValue = "false") boolean enabled,
        @Bindable(defaultValue = PROXY_IMAGE) String proxyImage,
        @Bindable(defaultValue = INIT_IMAGE) String initImage,
        @Bindable(defaultValue = "true") boolean nativeSidecar,
        @Bindable(defaultValue = CONTROL_PLANE) String controlPlane,
        @Bindable(defaultValue = CPU_REQUEST) String cpuRequest,
        @Bindable(defaultValue = MEMORY_REQUEST) String memoryRequest,
        @Bindable(defaultValue = MEMORY_LIMIT) String memoryLimit,
        @Nullable String jvmOptions,
        @Bindable(defaultValue = TOKEN_AUDIENCE) String tokenAudience) {

    /** The defaults, as the chart ships them: the memory figures cover the sidecar's measured RSS (docs/performance.md). */
    static final String PROXY_IMAGE = "trellis/sidecar:0.1.0";
    static final String INIT_IMAGE = "trellis/init:0.1.0";
    static final String CONTROL_PLANE = "trellis-control-plane.trellis.svc:15010";
    static final String CPU_REQUEST = "100m";
    static final String MEMORY_REQUEST = "256Mi";
    static final String MEMORY_LIMIT = "320Mi";
    static final String TOKEN_AUDIENCE = "trellis";

    /** A Kubernetes resource quantity ({@code 100m}, {@code 0.5}, {@code 256Mi}, {@code 1G}). */
    static final Pattern QUANTITY = Pattern.compile("\\d+(\\.\\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?");

    /** Validates every field; the message names the property and the expectation. */
    public InjectorSettings {
        require("proxy-image", proxyImage, Pattern.compile("[^\\s]+"), "an image reference");
        require("init-image", initImage, Pattern.compile("[^\\s]+"), "an image reference");
        require("control-plane", controlPlane, Pattern.compile("[^:\\s]+:\\d{1,5}"), "HOST:PORT");
        require("cpu-request", cpuRequest, QUANTITY, "a quantity such as 100m");
        require("memory-request", memoryRequest, QUANTITY, "a quantity such as 256Mi");
        require("memory-limit", memoryLimit, QUANTITY, "a quantity such as 320Mi");
        require("token-audience", tokenAudience, Pattern.compile("[^\\s]+"), "an audience name");
        jvmOptions = jvmOptions == null ? "" : jvmOptions.strip();
    }

    /** These settings with other images, sidecar kind and control-plane address (what {@code trellis inject} sets). */
    public InjectorSettings with(String proxyImage, String initImage, boolean nativeSidecar, String controlPlane) {
        return new InjectorSettings(enabled, proxyImage, initImage, nativeSidecar, controlPlane, cpuRequest, memoryRequest,
                memoryLimit, jvmOptions, tokenAudience);
    }

    /** The defaults. */
    public static InjectorSettings defaults() {
        return new InjectorSettings(false, PROXY_IMAGE, INIT_IMAGE, true, CONTROL_PLANE, CPU_REQUEST, MEMORY_REQUEST,
                MEMORY_LIMIT, null, TOKEN_AUDIENCE);
    }

    private static void require(String property, String value, Pattern pattern, String expected) {
        if (value == null || !pattern.matcher(value).matches()) {
            throw new IllegalArgumentException("trellis.injector." + property + ": " + value + " (expected " + expected + ")");
        }
    }
}
