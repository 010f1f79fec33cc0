package io.trellis.controlplane.inject;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.ProbeBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Decides whether a pod gets the mesh and computes the patch that adds it: {@code trellis-init}, which installs the
 * traffic redirect, then the proxy (a native sidecar by default, so it is ready before the app starts and does not
 * keep a Job alive), their volumes (the projected service-account token, the trust bundle, the proxy's state) and
 * two annotations. A pure function of the pod, its namespace and the settings: the webhook and {@code trellis inject}
 * share it. A pod it does not understand passes through untouched, with a warning that says why.
 */
public final class PodInjector {
    public static final String PROXY = "trellis-proxy";
    public static final String INIT = "trellis-init";
    public static final int PROXY_UID = 1337;
    public static final int OUTBOUND_PORT = 15001;
    public static final int API_PORT = 15002;
    public static final int INBOUND_PORT = 15006;
    public static final int TUNNEL_PORT = 15008;
    public static final int ADMIN_PORT = 15020;

    static final String TOKEN_DIR = "/var/run/secrets/trellis.io";
    static final String BUNDLE_DIR = "/var/run/trellis/bundle";
    static final String STATE_DIR = "/var/run/trellis/state";
    /** The proxy makes its state directory itself, 0700, inside the volume (an emptyDir is 0777). */
    static final String STATE_SUBDIR = STATE_DIR + "/proxy";
    static final String CACHE_DIR = "/var/run/trellis/cache";

    /** How the webhook picked the pod: by its namespace's label (a pod may opt out) or by the pod's own label. */
    public enum Scope { NAMESPACE, POD }

    /**
     * The outcome for one pod.
     *
     * @param patch empty when the pod is left as it is
     * @param warnings what the pod asked for that the injector did not understand, or why it was left alone
     */
    public record Injection(JsonPatch patch, List<String> warnings) {
    }

    private final InjectorSettings settings;
    private final ObjectMapper mapper;

    public PodInjector(InjectorSettings settings, ObjectMapper mapper) {
        this.settings = settings;
        this.mapper = mapper;
    }

    /**
     * @param trustDomain the mesh's trust domain (the proxy checks the control plane's certificate against it)
     * @param trustBundlePem the mesh's roots, which the proxy trusts the control plane by before it has an identity
     */
    public Injection inject(Pod pod, Scope scope, String trustDomain, String trustBundlePem) {
        List<String> warnings = new ArrayList<>();
        PodAnnotations annotations = new PodAnnotations(pod.getMetadata(), warnings);
        PodSpec spec = pod.getSpec();
        Optional<Boolean> wanted = annotations.inject();
        if (spec == null || spec.getContainers() == null || spec.getContainers().isEmpty()) {
            return untouched(warnings, "the pod has no containers");
        }
        if (annotations.injected() || hasContainer(spec, PROXY)) {
            return new Injection(new JsonPatch(List.of()), warnings);
        }
        if (!wanted.orElse(scope == Scope.NAMESPACE)) {
            return new Injection(new JsonPatch(List.of()), warnings);
        }
        if (Boolean.TRUE.equals(spec.getHostNetwork())) {
            return untouched(warnings, "the pod uses the node's network (hostNetwork), which a redirect would capture");
        }
        Optional<String> service = annotations.service();
        if (service.isEmpty()) {
            return untouched(warnings, "no service name: set " + PodAnnotations.SERVICE
                    + " or the app.kubernetes.io/name (or app) label");
        }
        // A pod that serves nothing (a Job that only calls out) gets port 0: calls to it are answered 503.
        int appPort = annotations.appPort().or(() -> firstDeclaredPort(spec)).orElse(0);

        List<JsonPatch.Add> patch = new ArrayList<>();
        Map<String, String> added = new LinkedHashMap<>();
        added.put(PodAnnotations.STATUS, "injected");
        added.put(PodAnnotations.CA_BUNDLE, trustBundlePem);
        Map<String, String> existing = pod.getMetadata().getAnnotations();
        if (existing == null || existing.isEmpty()) {
            patch.add(new JsonPatch.Add("/metadata/annotations", mapper.valueToTree(added)));
        } else {
            added.forEach((key, value) -> patch.add(new JsonPatch.Add(
                    "/metadata/annotations/" + JsonPatch.escape(key), mapper.getNodeFactory().textNode(value))));
        }

        // Before the proxy goes in: in classic mode it becomes the first container, and the app's indexes move.
        List<String> appProbes = rewriteProbes(spec, patch, warnings);
        Container init = initContainer(annotations);
        Container proxy = proxyContainer(annotations, service.get(), appPort, trustDomain, appProbes);
        List<Container> inits = spec.getInitContainers() == null ? List.of() : spec.getInitContainers();
        if (settings.nativeSidecar()) {
            proxy.setRestartPolicy("Always");
            if (inits.isEmpty()) {
                patch.add(new JsonPatch.Add("/spec/initContainers", mapper.valueToTree(List.of(init, proxy))));
            } else {
                // First and second, so that the app's own init containers already run behind a ready proxy.
                patch.add(new JsonPatch.Add("/spec/initContainers/0", tree(init)));
                patch.add(new JsonPatch.Add("/spec/initContainers/1", tree(proxy)));
            }
        } else {
            patch.add(inits.isEmpty() ? new JsonPatch.Add("/spec/initContainers", mapper.valueToTree(List.of(init)))
                    : new JsonPatch.Add("/spec/initContainers/0", tree(init)));
            patch.add(new JsonPatch.Add("/spec/containers/0", tree(proxy)));
            if (spec.getRestartPolicy() != null && !spec.getRestartPolicy().equals("Always")) {
                warnings.add("a classic sidecar keeps this pod running after its app exits: have the app call POST "
                        + "http://127.0.0.1:" + API_PORT + "/shutdown when it is done");
            }
        }

        List<Volume> volumes = volumes();
        if (spec.getVolumes() == null || spec.getVolumes().isEmpty()) {
            patch.add(new JsonPatch.Add("/spec/volumes", mapper.valueToTree(volumes)));
        } else {
            for (Volume volume : volumes) {
                patch.add(new JsonPatch.Add("/spec/volumes/-", tree(volume)));
            }
        }
        return new Injection(new JsonPatch(patch), warnings);
    }

    private static Injection untouched(List<String> warnings, String why) {
        warnings.add("not injected: " + why);
        return new Injection(new JsonPatch(List.of()), warnings);
    }

    /** The redirect: every TCP connection but the proxy's own to the outbound listener, inbound to 15006. */
    private Container initContainer(PodAnnotations annotations) {
        Set<Integer> inboundExcluded = new TreeSet<>(Set.of(API_PORT, INBOUND_PORT, TUNNEL_PORT, ADMIN_PORT));
        inboundExcluded.addAll(annotations.excludedInboundPorts());
        List<String> args = new ArrayList<>(List.of("init-iptables",
                "--proxy-uid", String.valueOf(PROXY_UID),
                "--outbound-port", String.valueOf(OUTBOUND_PORT),
                "--inbound-port", String.valueOf(INBOUND_PORT),
                "--exclude-inbound-ports", join(inboundExcluded)));
        Set<Integer> outboundExcluded = annotations.excludedOutboundPorts();
        if (!outboundExcluded.isEmpty()) {
            args.addAll(List.of("--exclude-outbound-ports", join(new TreeSet<>(outboundExcluded))));
        }
        return new ContainerBuilder()
                .withName(INIT)
                .withImage(settings.initImage())
                .withArgs(args)
                .withNewResources()
                    .addToRequests("cpu", new Quantity("10m"))
                    .addToRequests("memory", new Quantity("16Mi"))
                    .addToLimits("memory", new Quantity("64Mi"))
                .endResources()
                .withNewSecurityContext()
                    .withRunAsUser(0L)
                    .withRunAsNonRoot(false)
                    .withPrivileged(false)
                    .withAllowPrivilegeEscalation(false)
                    .withReadOnlyRootFilesystem(true)
                    .withNewCapabilities().withAdd("NET_ADMIN", "NET_RAW").withDrop("ALL").endCapabilities()
                .endSecurityContext()
                .build();
    }

    /**
     * Points the app containers' HTTP probes at the proxy's admin port ({@code /app-health/CONTAINER/KIND}): the kubelet
     * probes the pod's address, which the redirect hands to the mTLS port, so the proxy asks the app on its behalf.
     * Returns the proxy's {@code --app-probe} values. Probes it cannot carry (HTTPS, headers, another host, a port
     * name no container declares) are left as they are, with a warning: they would fail behind the redirect.
     */
    private List<String> rewriteProbes(PodSpec spec, List<JsonPatch.Add> patch, List<String> warnings) {
        List<String> probes = new ArrayList<>();
        for (int i = 0; i < spec.getContainers().size(); i++) {
            Container container = spec.getContainers().get(i);
            Map<String, Probe> kinds = new LinkedHashMap<>();
            kinds.put("liveness", container.getLivenessProbe());
            kinds.put("readiness", container.getReadinessProbe());
            kinds.put("startup", container.getStartupProbe());
            for (Map.Entry<String, Probe> kind : kinds.entrySet()) {
                Probe probe = kind.getValue();
                if (probe == null || probe.getHttpGet() == null) {
                    continue;
                }
                var get = probe.getHttpGet();
                String name = container.getName() + " " + kind.getKey() + " probe";
                Integer port = get.getPort() == null ? null : get.getPort().getIntVal() != null ? get.getPort().getIntVal()
                        : declaredPort(container, get.getPort().getStrVal());
                String path = get.getPath() == null || get.getPath().isEmpty() ? "/" : get.getPath();
                String why = port == null ? "its port " + get.getPort() + " is not one the container declares"
                        : "HTTPS".equalsIgnoreCase(get.getScheme()) ? "it is HTTPS"
                        : get.getHttpHeaders() != null && !get.getHttpHeaders().isEmpty() ? "it sends headers"
                        : get.getHost() != null && !get.getHost().isEmpty() ? "it probes another host"
                        : !path.startsWith("/") || path.contains(",") || path.chars().anyMatch(Character::isWhitespace)
                                ? "its path is not a plain path" : null;
                if (why != null) {
                    warnings.add("the " + name + " is left as it is (" + why + "), and the redirect will hand it to the "
                            + "proxy's mTLS port: exclude its port with " + PodAnnotations.EXCLUDE_INBOUND_PORTS);
                    continue;
                }
                String key = container.getName() + "/" + kind.getKey();
                probes.add(key + "=" + port + ":" + path);
                patch.add(new JsonPatch.Add("/spec/containers/" + i + "/" + kind.getKey() + "Probe/httpGet",
                        tree(new io.fabric8.kubernetes.api.model.HTTPGetActionBuilder().withPath("/app-health/" + key)
                                .withPort(new IntOrString(ADMIN_PORT)).withScheme("HTTP").build())));
            }
        }
        return probes;
    }

    private static Integer declaredPort(Container container, String name) {
        return container.getPorts() == null ? null : container.getPorts().stream()
                .filter(port -> name.equals(port.getName())).map(ContainerPort::getContainerPort).findFirst().orElse(null);
    }

    private Container proxyContainer(PodAnnotations annotations, String service, int appPort, String trustDomain,
            List<String> appProbes) {
        List<EnvVar> env = new ArrayList<>();
        env.add(value("TRELLIS_SERVICE", service));
        env.add(value("TRELLIS_APP_PORT", String.valueOf(appPort)));
        env.add(field("TRELLIS_POD_NAME", "metadata.name"));
        env.add(field("TRELLIS_NAMESPACE", "metadata.namespace"));
        env.add(field("TRELLIS_SERVICE_ACCOUNT", "spec.serviceAccountName"));
        env.add(field("TRELLIS_BIND_ADDRESS", "status.podIP"));
        env.add(value("TRELLIS_TRUST_DOMAIN", trustDomain));
        env.add(value("TRELLIS_CONTROL_PLANE", settings.controlPlane()));
        env.add(value("TRELLIS_TOKEN_FILE", TOKEN_DIR + "/token"));
        env.add(value("TRELLIS_CA_BUNDLE", BUNDLE_DIR + "/ca-bundle.pem"));
        env.add(value("TRELLIS_STATE_DIR", STATE_SUBDIR));
        env.add(value("TRELLIS_CACHE_DIR", CACHE_DIR));
        annotations.appProtocol().ifPresent(protocol -> env.add(value("TRELLIS_APP_PROTOCOL", protocol)));
        List<String> upstreams = annotations.upstreams();
        if (!upstreams.isEmpty()) {
            env.add(value("TRELLIS_UPSTREAM", String.join(",", upstreams)));
        }
        Map<String, String> labels = annotations.subsetLabels();
        if (!labels.isEmpty()) {
            env.add(value("TRELLIS_LABEL", labels.entrySet().stream()
                    .map(label -> label.getKey() + "=" + label.getValue()).collect(Collectors.joining(","))));
        }
        if (!appProbes.isEmpty()) {
            env.add(value("TRELLIS_APP_PROBE", String.join(",", appProbes)));
        }
        if (!settings.jvmOptions().isEmpty()) {
            env.add(value("TRELLIS_JAVA_OPTS", settings.jvmOptions()));
        }
        String memory = annotations.proxyMemory().orElse(null);
        return new ContainerBuilder()
                .withName(PROXY)
                .withImage(settings.proxyImage())
                .withArgs("sidecar")
                .withEnv(env)
                .addNewPort().withName("trellis-inbound").withContainerPort(INBOUND_PORT).withProtocol("TCP").endPort()
                .addNewPort().withName("trellis-tunnel").withContainerPort(TUNNEL_PORT).withProtocol("TCP").endPort()
                .addNewPort().withName("trellis-admin").withContainerPort(ADMIN_PORT).withProtocol("TCP").endPort()
                // Ready means a certificate and the first snapshot; up to two minutes for a cold control plane.
                .withStartupProbe(probe("/healthz/ready", 1, 120))
                .withReadinessProbe(probe("/healthz/ready", 5, 3))
                .withLivenessProbe(probe("/healthz/live", 10, 3))
                .withNewResources()
                    .addToRequests("cpu", new Quantity(annotations.proxyCpu().orElse(settings.cpuRequest())))
                    .addToRequests("memory", new Quantity(memory != null ? memory : settings.memoryRequest()))
                    .addToLimits("memory", new Quantity(memory != null ? memory : settings.memoryLimit()))
                .endResources()
                .withNewSecurityContext()
                    .withRunAsUser((long) PROXY_UID)
                    .withRunAsGroup((long) PROXY_UID)
                    .withRunAsNonRoot(true)
                    .withPrivileged(false)
                    .withAllowPrivilegeEscalation(false)
                    .withReadOnlyRootFilesystem(true)
                    .withNewCapabilities().withDrop("ALL").endCapabilities()
                .endSecurityContext()
                .addNewVolumeMount().withName("trellis-token").withMountPath(TOKEN_DIR).withReadOnly(true).endVolumeMount()
                .addNewVolumeMount().withName("trellis-bundle").withMountPath(BUNDLE_DIR).withReadOnly(true).endVolumeMount()
                .addNewVolumeMount().withName("trellis-state").withMountPath(STATE_DIR).endVolumeMount()
                .addNewVolumeMount().withName("trellis-cache").withMountPath(CACHE_DIR).endVolumeMount()
                .addNewVolumeMount().withName("trellis-tmp").withMountPath("/tmp").endVolumeMount()
                .build();
    }

    private List<Volume> volumes() {
        return List.of(
                new VolumeBuilder().withName("trellis-token").withNewProjected()
                        .addNewSource().withNewServiceAccountToken()
                            .withAudience(settings.tokenAudience()).withExpirationSeconds(3600L).withPath("token")
                        .endServiceAccountToken().endSource()
                        .endProjected().build(),
                // The bundle travels in the pod's own annotation: no object to create in the pod's namespace.
                new VolumeBuilder().withName("trellis-bundle").withNewDownwardAPI()
                        .addNewItem().withPath("ca-bundle.pem").withNewFieldRef()
                            .withFieldPath("metadata.annotations['" + PodAnnotations.CA_BUNDLE + "']").endFieldRef()
                        .endItem()
                        .endDownwardAPI().build(),
                // The key never touches the node's disk.
                new VolumeBuilder().withName("trellis-state").withNewEmptyDir()
                        .withMedium("Memory").withSizeLimit(new Quantity("16Mi")).endEmptyDir().build(),
                new VolumeBuilder().withName("trellis-cache").withNewEmptyDir()
                        .withSizeLimit(new Quantity("256Mi")).endEmptyDir().build(),
                // The root file system is read-only; Netty's BoringSSL and JNA unpack their native libraries here.
                new VolumeBuilder().withName("trellis-tmp").withNewEmptyDir()
                        .withMedium("Memory").withSizeLimit(new Quantity("32Mi")).endEmptyDir().build());
    }

    private static Probe probe(String path, int period, int failures) {
        return new ProbeBuilder().withNewHttpGet().withPath(path).withPort(new IntOrString(ADMIN_PORT)).endHttpGet()
                .withPeriodSeconds(period).withFailureThreshold(failures).withTimeoutSeconds(1).build();
    }

    private static Optional<Integer> firstDeclaredPort(PodSpec spec) {
        return spec.getContainers().stream()
                .filter(container -> container.getPorts() != null)
                .flatMap(container -> container.getPorts().stream())
                .filter(port -> port.getProtocol() == null || port.getProtocol().equals("TCP"))
                .map(ContainerPort::getContainerPort)
                .findFirst();
    }

    private static boolean hasContainer(PodSpec spec, String name) {
        return spec.getContainers().stream().anyMatch(c -> name.equals(c.getName()))
                || (spec.getInitContainers() != null && spec.getInitContainers().stream().anyMatch(c -> name.equals(c.getName())));
    }

    private JsonNode tree(Object model) {
        return mapper.valueToTree(model);
    }

    private static EnvVar value(String name, String value) {
        return new EnvVarBuilder().withName(name).withValue(value).build();
    }

    private static EnvVar field(String name, String path) {
        return new EnvVarBuilder().withName(name).withNewValueFrom().withNewFieldRef().withFieldPath(path)
                .endFieldRef().endValueFrom().build();
    }

    private static String join(Set<Integer> ports) {
        return ports.stream().map(String::valueOf).collect(Collectors.joining(","));
    }

    /** The mapper the injector's models are written with: no nulls, no empty maps. */
    public static ObjectMapper newMapper() {
        return new ObjectMapper().setSerializationInclusion(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_EMPTY);
    }
}
