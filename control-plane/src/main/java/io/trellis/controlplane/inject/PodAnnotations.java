package io.trellis.controlplane.inject;

import io.fabric8.kubernetes.api.model.ObjectMeta;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The {@code trellis.io/*} annotations a pod carries, read leniently: a value the injector does not understand is
 * left out with a warning that names the annotation, and the pod is injected with the default instead, because a
 * mutating webhook that refuses a pod blocks a whole rollout.
 */
final class PodAnnotations {
    static final String INJECT = "trellis.io/inject";
    static final String STATUS = "trellis.io/status";
    static final String CA_BUNDLE = "trellis.io/ca-bundle";
    static final String SERVICE = "trellis.io/service";
    static final String APP_PORT = "trellis.io/app-port";
    static final String APP_PROTOCOL = "trellis.io/app-protocol";
    static final String UPSTREAMS = "trellis.io/upstreams";
    static final String EXCLUDE_OUTBOUND_PORTS = "trellis.io/exclude-outbound-ports";
    static final String EXCLUDE_INBOUND_PORTS = "trellis.io/exclude-inbound-ports";
    static final String PROXY_CPU = "trellis.io/proxy-cpu";
    static final String PROXY_MEMORY = "trellis.io/proxy-memory";

    /** Labels that controllers put on their pods to tell revisions and runs apart. */
    private static final Set<String> CONTROLLER_LABELS = Set.of("pod-template-hash", "controller-revision-hash",
            "pod-template-generation", "controller-uid", "job-name", INJECT);
    private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
    private static final Pattern UPSTREAM = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(:\\d{1,5})?=(?<local>\\d{1,5})(/tcp)?");

    private final Map<String, String> annotations;
    private final Map<String, String> labels;
    private final List<String> warnings;

    PodAnnotations(ObjectMeta metadata, List<String> warnings) {
        this.annotations = metadata == null || metadata.getAnnotations() == null ? Map.of() : metadata.getAnnotations();
        this.labels = metadata == null || metadata.getLabels() == null ? Map.of() : metadata.getLabels();
        this.warnings = warnings;
    }

    /** What the pod says about injection: the annotation, else the label of the same name. */
    Optional<Boolean> inject() {
        String value = annotations.getOrDefault(INJECT, labels.get(INJECT));
        if (value == null) {
            return Optional.empty();
        }
        return switch (value) {
            case "enabled", "true" -> Optional.of(true);
            case "disabled", "false" -> Optional.of(false);
            default -> {
                warn(INJECT, value, "enabled or disabled");
                yield Optional.empty();
            }
        };
    }

    boolean injected() {
        return annotations.containsKey(STATUS);
    }

    /** The mesh service the pod serves: the annotation, else the app.kubernetes.io/name label, else app. */
    Optional<String> service() {
        String explicit = annotations.get(SERVICE);
        if (explicit != null) {
            if (DNS_LABEL.matcher(explicit).matches()) {
                return Optional.of(explicit);
            }
            warn(SERVICE, explicit, "a DNS label");
        }
        for (String label : List.of("app.kubernetes.io/name", "app")) {
            String value = labels.get(label);
            if (value != null && DNS_LABEL.matcher(value).matches()) {
                return Optional.of(value);
            }
        }
        return Optional.empty();
    }

    Optional<Integer> appPort() {
        String value = annotations.get(APP_PORT);
        if (value == null) {
            return Optional.empty();
        }
        Optional<Integer> port = port(value);
        if (port.isEmpty()) {
            warn(APP_PORT, value, "a port number");
        }
        return port;
    }

    /** auto, http1 or h2c; empty = the sidecar's default. */
    Optional<String> appProtocol() {
        String value = annotations.get(APP_PROTOCOL);
        if (value == null) {
            return Optional.empty();
        }
        if (List.of("auto", "http1", "h2c").contains(value)) {
            return Optional.of(value);
        }
        warn(APP_PROTOCOL, value, "auto, http1 or h2c");
        return Optional.empty();
    }

    /** The sidecar's {@code --upstream} values ({@code NAME[:PORT]=LOCALPORT[/tcp]}), comma-separated. */
    List<String> upstreams() {
        List<String> upstreams = new ArrayList<>();
        for (String entry : list(UPSTREAMS)) {
            java.util.regex.Matcher upstream = UPSTREAM.matcher(entry);
            if (upstream.matches() && port(upstream.group("local")).isPresent()) {
                upstreams.add(entry);
            } else {
                warn(UPSTREAMS, entry, "NAME=LOCALPORT or NAME[:PORT]=LOCALPORT/tcp");
            }
        }
        return upstreams;
    }

    Set<Integer> excludedOutboundPorts() {
        return ports(EXCLUDE_OUTBOUND_PORTS);
    }

    Set<Integer> excludedInboundPorts() {
        return ports(EXCLUDE_INBOUND_PORTS);
    }

    Optional<String> proxyCpu() {
        return quantity(PROXY_CPU);
    }

    Optional<String> proxyMemory() {
        return quantity(PROXY_MEMORY);
    }

    /** The pod's labels that mean something to subsets: not the ones controllers add to tell revisions apart. */
    Map<String, String> subsetLabels() {
        Map<String, String> subset = new java.util.TreeMap<>();
        labels.forEach((key, value) -> {
            boolean generated = CONTROLLER_LABELS.contains(key) || key.startsWith("batch.kubernetes.io/")
                    || key.startsWith("statefulset.kubernetes.io/") || key.startsWith("apps.kubernetes.io/");
            if (!generated && !value.isEmpty()) {
                subset.put(key, value);
            }
        });
        return subset;
    }

    private Optional<String> quantity(String annotation) {
        String value = annotations.get(annotation);
        if (value == null) {
            return Optional.empty();
        }
        if (InjectorSettings.QUANTITY.matcher(value).matches()) {
            return Optional.of(value);
        }
        warn(annotation, value, "a quantity such as 200m or 256Mi");
        return Optional.empty();
    }

    private Set<Integer> ports(String annotation) {
        Set<Integer> ports = new LinkedHashSet<>();
        for (String entry : list(annotation)) {
            port(entry).ifPresentOrElse(ports::add, () -> warn(annotation, entry, "a port number"));
        }
        return ports;
    }

    private List<String> list(String annotation) {
        String value = annotations.get(annotation);
        if (value == null || value.isBlank()) {
            return List.of();
        }
        List<String> entries = new ArrayList<>();
        for (String entry : value.split(",")) {
            if (!entry.isBlank()) {
                entries.add(entry.strip());
            }
        }
        return entries;
    }

    private static Optional<Integer> port(String value) {
        if (!value.matches("\\d{1,5}")) {
            return Optional.empty();
        }
        int port = Integer.parseInt(value);
        return port >= 1 && port <= 65535 ? Optional.of(port) : Optional.empty();
    }

    private void warn(String annotation, String value, String expected) {
        warnings.add(annotation + ": '" + value + "' is not understood (expected " + expected + "); left out");
    }
}
