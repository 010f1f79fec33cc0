package io.trellis.sidecar;

import io.micronaut.context.annotation.ConfigurationProperties;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.core.bind.annotation.Bindable;
import io.trellis.certs.SpiffeId;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The sidecar's own settings ({@code trellis.sidecar.*}), bound once at start and validated here: a bad
 * flag stops the process with a message naming it. Immutable.
 *
 * @param service the app's service name (what other apps call it by)
 * @param namespace the service's namespace
 * @param serviceAccount the identity's service-account segment; defaults to the service name
 * @param trustDomain the mesh trust domain the control plane's certificate is checked against
 * @param appPort the local app's port on 127.0.0.1, where inbound requests are forwarded; 0 = the app serves nothing
 *     (a Job that only calls out), so inbound requests are answered 503 {@code upstream-connect-failure}
 * @param appProtocol how to speak to the app: {@code auto} (gRPC over h2c, the rest HTTP/1.1),
 *     {@code http1} or {@code h2c}
 * @param tokenFile the join token used to obtain the first certificate
 * @param caBundle PEM roots that the control plane's certificate must chain to
 * @param controlPlane HOST:PORT of the control plane's gRPC listener
 * @param bindAddress the address the inbound listener binds to and announces to other sidecars
 * @param outboundPort the app-facing outbound listener (127.0.0.1)
 * @param inboundPort the mTLS inbound listener (on {@code bindAddress})
 * @param tunnelPort the mTLS listener for opaque TCP from other sidecars (on {@code bindAddress})
 * @param adminPort the read-only admin listener (health, metrics)
 * @param adminAddress the address the admin listener binds to
 * @param apiPort the local sidecar API (127.0.0.1)
 * @param upstreams {@code NAME=LOCALPORT} (HTTP) or {@code NAME[:PORT]=LOCALPORT/tcp} (opaque TCP to the service's
 *     declared TCP port PORT, by default its first): one 127.0.0.1 listener each, routed to NAME
 * @param stateDir where the key, certificate and last accepted snapshot are kept (0700/0600)
 * @param labels k=v labels announced to the control plane (subsets select on them)
 * @param drainTimeout how long in-flight requests may run after SIGTERM
 * @param kafkaBootstrap HOST:PORT[,HOST:PORT...] of the Kafka brokers, overriding the mesh config's; empty = follow it
 * @param headersWithUnderscores what the listeners do with a request header whose name has an underscore: {@code drop}
 *     it (the default: CGI and WSGI stacks read {@code x_forwarded_client_cert} as {@code X-Forwarded-Client-Cert}),
 *     {@code reject} the request (400), or {@code allow} it
 * @param maxConnections the connections each HTTP listener holds at once
 * @param pathCase {@code sensitive}, or {@code insensitive}: inbound paths are lower-cased before authorization
 * @param readyFile written with the ports once the sidecar is first ready, removed when it stops; null = none
 * @param podName this proxy's name in the control plane's proxy list (the pod's name in Kubernetes); null = the service
 *     name and a random suffix
 * @param appProbes {@code CONTAINER/KIND=PORT:PATH}: the app's HTTP probes, which the kubelet sends to the admin port as
 *     {@code /app-health/CONTAINER/KIND} (the injector rewrites them: the pod's redirect would hand them to the mTLS
 *     port) and the sidecar asks the app on 127.0.0.1
 */
@ConfigurationProperties("trellis.sidecar")
public record SidecarConfig(
        String service,
        @Bindable(defaultValue = "default") String namespace,
        @Nullable String serviceAccount,
        @Bindable(defaultValue = "cluster.local") String trustDomain,
        int appPort,
        @Bindable(defaultValue = "auto") String appProtocol,
        Path tokenFile,
        Path caBundle,
        @Bindable(defaultValue = "127.0.0.1:15010") String controlPlane,
        @Bindable(defaultValue = "127.0.0.1") String bindAddress,
        @Bindable(defaultValue = "15001") int outboundPort,
        @Bindable(defaultValue = "15006") int inboundPort,
        @Bindable(defaultValue = "15008") int tunnelPort,
        @Bindable(defaultValue = "15020") int adminPort,
        @Bindable(defaultValue = "0.0.0.0") String adminAddress,
        @Bindable(defaultValue = "15002") int apiPort,
        @Nullable List<String> upstreams,
        @Nullable Path stateDir,
        @Nullable List<String> labels,
        @Bindable(defaultValue = "10s") Duration drainTimeout,
        @Nullable String kafkaBootstrap,
        @Bindable(defaultValue = "drop") String headersWithUnderscores,
        @Bindable(defaultValue = "8192") int maxConnections,
        @Bindable(defaultValue = "sensitive") String pathCase,
        @Nullable Path readyFile,
        @Nullable String podName,
        @Nullable List<String> appProbes) {

    private static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
    private static final Pattern HOST_PORT_LIST = Pattern.compile("[A-Za-z0-9.\\-\\[\\]:]+:\\d{1,5}(,[A-Za-z0-9.\\-\\[\\]:]+:\\d{1,5})*");
    private static final Pattern UPSTREAM = Pattern.compile("([^=:/]+)(?::(\\d{1,5}))?=(\\d{1,5})(/tcp)?");
    private static final Pattern APP_PROBE = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?/(liveness|readiness|startup)=\\d{1,5}:/\\S*");
    private static final Pattern LABEL_KEY = Pattern.compile("[A-Za-z0-9]([-A-Za-z0-9_./]{0,61}[A-Za-z0-9])?");

    /**
     * A declared upstream: a local listener on {@code port} that reaches {@code service}.
     *
     * @param tcp true for opaque TCP, false for HTTP
     * @param targetPort for TCP: the service's declared TCP port to reach; 0 = its first declared one
     */
    public record Upstream(String service, int port, boolean tcp, int targetPort) {
        /** An HTTP upstream. */
        public Upstream(String service, int port) {
            this(service, port, false, 0);
        }

        /** How it is named and looked up: {@code NAME}, or {@code NAME:PORT} for a declared target port. */
        public String key() {
            return targetPort == 0 ? service : service + ":" + targetPort;
        }
    }

    /** Validates every field; the message names the flag and the expectation. */
    public SidecarConfig {
        requireName("--service", service);
        requireName("--namespace", namespace);
        serviceAccount = serviceAccount == null || serviceAccount.isBlank() ? service : serviceAccount;
        requireName("--service-account", serviceAccount);
        SpiffeId.validateTrustDomain(trustDomain);
        requirePort("--app-port", appPort);
        if (!List.of("auto", "http1", "h2c").contains(appProtocol)) {
            throw new IllegalArgumentException("--app-protocol: " + appProtocol + " (expected auto, http1 or h2c)");
        }
        if (tokenFile == null) {
            throw new IllegalArgumentException("--token-file: missing (expected a file holding a join token)");
        }
        if (caBundle == null) {
            throw new IllegalArgumentException("--ca-bundle: missing (expected a PEM file of the mesh's root certificates)");
        }
        if (!controlPlane.matches("[^:\\s]+:\\d{1,5}")) {
            throw new IllegalArgumentException("--control-plane: " + controlPlane + " (expected HOST:PORT)");
        }
        requirePort("--outbound-port", outboundPort);
        requirePort("--inbound-port", inboundPort);
        requirePort("--tunnel-port", tunnelPort);
        requirePort("--admin-port", adminPort);
        requirePort("--api-port", apiPort);
        upstreams = upstreams == null ? List.of() : List.copyOf(upstreams);
        labels = labels == null ? List.of() : List.copyOf(labels);
        appProbes = appProbes == null ? List.of() : List.copyOf(appProbes);
        if (podName != null && !podName.matches("[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")) {
            throw new IllegalArgumentException("--pod-name: " + podName + " (expected a DNS subdomain, as a pod's name is)");
        }
        for (String probe : appProbes) {
            if (!APP_PROBE.matcher(probe).matches()) {
                throw new IllegalArgumentException("--app-probe: " + probe + " (expected CONTAINER/KIND=PORT:PATH, KIND one of"
                        + " liveness, readiness, startup)");
            }
        }
        stateDir = stateDir != null ? stateDir : Path.of(".trellis", "sidecar", namespace, service);
        if (drainTimeout.isNegative()) {
            throw new IllegalArgumentException("--drain-timeout: " + drainTimeout + " (expected >= 0)");
        }
        kafkaBootstrap = kafkaBootstrap == null ? "" : kafkaBootstrap.strip();
        if (!kafkaBootstrap.isEmpty() && !HOST_PORT_LIST.matcher(kafkaBootstrap).matches()) {
            throw new IllegalArgumentException("--kafka-bootstrap: " + kafkaBootstrap + " (expected HOST:PORT[,HOST:PORT...])");
        }
        if (!List.of("drop", "reject", "allow").contains(headersWithUnderscores)) {
            throw new IllegalArgumentException("--headers-with-underscores: " + headersWithUnderscores
                    + " (expected drop, reject or allow)");
        }
        if (maxConnections < 1 || maxConnections > 1_000_000) {
            throw new IllegalArgumentException("--max-connections: " + maxConnections + " (expected 1 to 1000000)");
        }
        if (!List.of("sensitive", "insensitive").contains(pathCase)) {
            throw new IllegalArgumentException("--path-case: " + pathCase + " (expected sensitive or insensitive)");
        }
        parsedUpstreams(upstreams);
        parsedLabels(labels);
    }

    /** The identity this sidecar asks for. */
    public SpiffeId identity() {
        return SpiffeId.forWorkload(trustDomain, namespace, serviceAccount);
    }

    /** The control plane's host. */
    public String controlPlaneHost() {
        return controlPlane.substring(0, controlPlane.lastIndexOf(':'));
    }

    /** The control plane's port. */
    public int controlPlanePort() {
        return Integer.parseInt(controlPlane.substring(controlPlane.lastIndexOf(':') + 1));
    }

    /** The declared upstream listeners (HTTP and TCP), in flag order. */
    public List<Upstream> declaredUpstreams() {
        return parsedUpstreams(upstreams);
    }

    /** The announced labels. */
    public Map<String, String> labelMap() {
        return parsedLabels(labels);
    }

    private static List<Upstream> parsedUpstreams(List<String> values) {
        List<Upstream> parsed = new ArrayList<>();
        for (String value : values) {
            java.util.regex.Matcher m = UPSTREAM.matcher(value);
            if (!m.matches()) {
                throw new IllegalArgumentException("--upstream: " + value
                        + " (expected NAME=LOCALPORT for HTTP or NAME[:PORT]=LOCALPORT/tcp for opaque TCP)");
            }
            String name = m.group(1);
            boolean tcp = m.group(4) != null;
            if (m.group(2) != null && !tcp) {
                throw new IllegalArgumentException("--upstream: " + value + " (a target port is for TCP upstreams:"
                        + " NAME:PORT=LOCALPORT/tcp)");
            }
            requireName("--upstream", name.contains(".") ? name.substring(0, name.indexOf('.')) : name);
            int target = m.group(2) == null ? 0 : Integer.parseInt(m.group(2));
            if (m.group(2) != null && (target < 1 || target > 65535)) {
                throw new IllegalArgumentException("--upstream " + name + ": target port " + target + " (expected 1-65535)");
            }
            requirePort("--upstream " + name, Integer.parseInt(m.group(3)));
            parsed.add(new Upstream(name, Integer.parseInt(m.group(3)), tcp, target));
        }
        return List.copyOf(parsed);
    }

    private static Map<String, String> parsedLabels(List<String> values) {
        Map<String, String> parsed = new LinkedHashMap<>();
        for (String value : values) {
            int eq = value.indexOf('=');
            if (eq <= 0 || !LABEL_KEY.matcher(value.substring(0, eq)).matches()
                    || value.length() - eq - 1 > 63) {
                throw new IllegalArgumentException("--label: " + value + " (expected key=value, key like version)");
            }
            parsed.put(value.substring(0, eq), value.substring(eq + 1));
        }
        return Map.copyOf(parsed);
    }

    private static void requireName(String flag, String value) {
        if (value == null || !NAME.matcher(value).matches()) {
            throw new IllegalArgumentException(flag + ": " + value + " (expected a DNS label: a-z, 0-9, '-')");
        }
    }

    private static void requirePort(String flag, int port) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(flag + ": " + port + " (expected 0-65535)");
        }
    }
}
