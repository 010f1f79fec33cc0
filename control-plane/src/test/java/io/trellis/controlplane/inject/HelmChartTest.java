package io.trellis.controlplane.inject;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import java.io.ByteArrayInputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * helm/trellis rendered by Helm itself (helm-java), read back as fabric8 models, and its wiring checked: the webhook
 * reaches the Service's HTTPS port with a CA bundle that signed the serving certificate, probes name ports that
 * exist, the sidecars reach the control plane where it listens, RBAC grants what the control plane needs. Then the
 * rendered configuration runs: a control plane started with it answers an AdmissionReview over HTTPS to curl, which
 * checks the certificate against the webhook's CA bundle under the Service's name, as the API server would.
 */
class HelmChartTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final Path CHART = Path.of("..", "helm", "trellis").toAbsolutePath().normalize();
    private static final String NAMESPACE = "trellis-system";
    private static final String HOST = "trellis-control-plane.trellis-system.svc";

    @TempDir
    Path dir;

    /** One render's documents by kind, then name. */
    private record Manifests(Map<String, Map<String, JsonNode>> byKind) {
        <T> T get(String kind, String name, Class<T> type) {
            JsonNode node = byKind.getOrDefault(kind, Map.of()).get(name);
            assertThat(node).as(kind + "/" + name + " in " + byKind.keySet()).isNotNull();
            return YAML.convertValue(node, type);
        }

        boolean has(String kind) {
            return byKind.containsKey(kind);
        }
    }

    private static Manifests render(Map<String, Object> values) throws Exception {
        return render(values, "1.31.0");
    }

    private static Manifests render(Map<String, Object> values, String kubeVersion) throws Exception {
        TemplateCommand template = new Helm(CHART).template().withName("trellis").withNamespace(NAMESPACE)
                .withKubeVersion(kubeVersion);
        values.forEach(template::set);
        String out = template.call();
        Map<String, Map<String, JsonNode>> byKind = new LinkedHashMap<>();
        try (MappingIterator<JsonNode> docs = YAML.readerFor(JsonNode.class).readValues(out)) {
            while (docs.hasNextValue()) {
                JsonNode doc = docs.nextValue();
                if (doc != null && doc.has("kind")) {
                    byKind.computeIfAbsent(doc.path("kind").asText(), k -> new LinkedHashMap<>())
                            .put(doc.path("metadata").path("name").asText(), doc);
                }
            }
        }
        return new Manifests(byKind);
    }

    private static JsonNode controlPlaneConfig(Manifests manifests) throws Exception {
        ConfigMap config = manifests.get("ConfigMap", "trellis-control-plane", ConfigMap.class);
        return YAML.readTree(config.getData().get("control-plane.yml"));
    }

    @Test
    void theChartPassesHelmLintStrict() {
        LintResult lint = new Helm(CHART).lint().strict().call();
        assertThat(lint.isFailed()).as(String.join("\n", lint.getMessages())).isFalse();
        assertThat(lint.getMessages()).noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]"));
    }

    @Test
    void theWebhookReachesTheControlPlanesHttpsPortWithACaBundleThatSignedItsCertificate() throws Exception {
        Manifests manifests = render(Map.of());

        MutatingWebhookConfiguration webhooks = manifests.get("MutatingWebhookConfiguration", "trellis-injector",
                MutatingWebhookConfiguration.class);
        assertThat(webhooks.getWebhooks()).extracting(MutatingWebhook::getName)
                .containsExactly("namespace.inject.trellis.io", "object.inject.trellis.io");
        assertThat(webhooks.getWebhooks()).extracting(w -> w.getClientConfig().getService().getPath())
                .containsExactly("/inject", "/inject/pod");
        Service service = manifests.get("Service", "trellis-control-plane", Service.class);
        Deployment deployment = manifests.get("Deployment", "trellis-control-plane", Deployment.class);
        Container container = deployment.getSpec().getTemplate().getSpec().getContainers().get(0);
        JsonNode config = controlPlaneConfig(manifests);
        for (MutatingWebhook webhook : webhooks.getWebhooks()) {
            assertThat(webhook.getFailurePolicy()).isEqualTo("Fail");
            assertThat(webhook.getSideEffects()).isEqualTo("None");
            assertThat(webhook.getAdmissionReviewVersions()).containsExactly("v1");
            assertThat(webhook.getRules()).singleElement().satisfies(rule -> {
                assertThat(rule.getOperations()).containsExactly("CREATE");
                assertThat(rule.getResources()).containsExactly("pods");
            });
            var target = webhook.getClientConfig().getService();
            assertThat(target.getName()).isEqualTo(service.getMetadata().getName());
            assertThat(target.getNamespace()).isEqualTo(NAMESPACE);
            ServicePort port = service.getSpec().getPorts().stream().filter(p -> p.getPort().equals(target.getPort()))
                    .findFirst().orElseThrow();
            ContainerPort https = port(container, port.getTargetPort().getStrVal());
            assertThat(https.getContainerPort()).isEqualTo(config.at("/micronaut/server/ssl/port").asInt());
            assertThat(webhook.getNamespaceSelector().getMatchExpressions())
                    .anySatisfy(e -> assertThat(e.getValues()).contains(NAMESPACE))
                    .as("never the control plane's own namespace");
        }

        X509Certificate ca = certificate(new String(Base64.getDecoder().decode(
                webhooks.getWebhooks().get(0).getClientConfig().getCaBundle()), StandardCharsets.UTF_8));
        Secret tls = manifests.get("Secret", "trellis-control-plane-webhook-tls", Secret.class);
        X509Certificate serving = certificate(new String(Base64.getDecoder().decode(tls.getData().get("tls.crt")),
                StandardCharsets.UTF_8));
        serving.verify(ca.getPublicKey());
        assertThat(certificate(new String(Base64.getDecoder().decode(tls.getData().get("ca.crt")), StandardCharsets.UTF_8)))
                .as("the CA beside the certificate").isEqualTo(ca);
        assertThat(deployment.getSpec().getTemplate().getMetadata().getAnnotations()).containsKey("checksum/webhook-tls");
        assertThat(serving.getSubjectAlternativeNames().stream().map(san -> String.valueOf(san.get(1)))).contains(HOST);
        assertThat(deployment.getSpec().getTemplate().getSpec().getVolumes()).filteredOn(v -> v.getSecret() != null)
                .singleElement().satisfies(v -> assertThat(v.getSecret().getSecretName()).isEqualTo(tls.getMetadata().getName()));
        assertThat(config.at("/micronaut/server/ssl/key-store/certificate-path").asText()).isEqualTo("file:/etc/trellis/webhook/tls.crt");
        assertThat(container.getVolumeMounts()).anySatisfy(m -> assertThat(m.getMountPath()).isEqualTo("/etc/trellis/webhook"));
    }

    @Test
    void probesSidecarsAndRbacAreWiredToWhatTheControlPlaneServes() throws Exception {
        Manifests manifests = render(Map.of());
        Deployment deployment = manifests.get("Deployment", "trellis-control-plane", Deployment.class);
        Container container = deployment.getSpec().getTemplate().getSpec().getContainers().get(0);
        for (Probe probe : List.of(container.getStartupProbe(), container.getReadinessProbe(), container.getLivenessProbe())) {
            ContainerPort port = port(container, probe.getHttpGet().getPort().getStrVal());
            assertThat(port.getName()).isEqualTo("http-api");
            assertThat(probe.getHttpGet().getPath()).isEqualTo("/api/v1/ca/bundle");
        }
        JsonNode config = controlPlaneConfig(manifests);
        assertThat(port(container, "http-api").getContainerPort()).isEqualTo(config.at("/micronaut/server/port").asInt());
        assertThat(port(container, "grpc-mesh").getContainerPort()).isEqualTo(config.at("/trellis/grpc-port").asInt());
        JsonNode injector = config.at("/trellis/injector");
        assertThat(injector.path("enabled").asBoolean()).isTrue();
        assertThat(injector.path("token-audience").asText()).isEqualTo("trellis")
                .as("the audience the review asks for").isEqualTo(config.at("/trellis/kubernetes/audience").asText());
        assertThat(injector.path("control-plane").asText()).isEqualTo(HOST + ":" + config.at("/trellis/grpc-port").asInt());
        assertThat(config.at("/trellis/server-names").toString()).contains(HOST);
        Service service = manifests.get("Service", "trellis-control-plane", Service.class);
        assertThat(service.getSpec().getPorts()).anySatisfy(p -> {
            assertThat(p.getPort()).isEqualTo(config.at("/trellis/grpc-port").asInt());
            assertThat(p.getTargetPort().getStrVal()).isEqualTo("grpc-mesh");
        });
        assertThat(service.getSpec().getSelector()).isEqualTo(deployment.getSpec().getSelector().getMatchLabels());
        assertThat(deployment.getSpec().getTemplate().getMetadata().getLabels()).containsEntry("trellis.io/inject", "disabled");

        ClusterRole role = manifests.get("ClusterRole", "trellis-control-plane", ClusterRole.class);
        assertThat(role.getRules()).anySatisfy(rule -> {
            assertThat(rule.getApiGroups()).containsExactly("authentication.k8s.io");
            assertThat(rule.getResources()).containsExactly("tokenreviews");
            assertThat(rule.getVerbs()).containsExactly("create");
        });
        PolicyRule reads = role.getRules().stream().filter(r -> r.getResources().contains("services")).findFirst().orElseThrow();
        assertThat(reads.getResources()).contains("services", "endpoints", "pods");
        assertThat(reads.getVerbs()).containsExactlyInAnyOrder("get", "list", "watch");
        assertThat(role.getRules()).allSatisfy(rule -> assertThat(rule.getVerbs()).doesNotContain("update", "patch", "delete", "*"));
        ClusterRoleBinding binding = manifests.get("ClusterRoleBinding", "trellis-control-plane", ClusterRoleBinding.class);
        assertThat(binding.getSubjects()).singleElement().satisfies(subject -> {
            assertThat(subject.getName()).isEqualTo(deployment.getSpec().getTemplate().getSpec().getServiceAccountName());
            assertThat(subject.getNamespace()).isEqualTo(NAMESPACE);
        });
        assertThat(manifests.has("PersistentVolumeClaim")).isTrue();
        assertThat(container.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
        assertThat(deployment.getSpec().getTemplate().getSpec().getSecurityContext().getRunAsNonRoot()).isTrue();
    }

    @Test
    void valuesChangeWhatTheyShould() throws Exception {
        JsonNode classic = controlPlaneConfig(render(Map.of("injector.nativeSidecar", "false"), "1.27.3"));
        assertThat(classic.at("/trellis/injector/native-sidecar").asBoolean(true)).isFalse();

        Manifests ignoring = render(Map.of("injector.failurePolicy", "Ignore", "injector.timeoutSeconds", "5"));
        assertThat(ignoring.get("MutatingWebhookConfiguration", "trellis-injector", MutatingWebhookConfiguration.class)
                .getWebhooks()).allSatisfy(w -> {
                    assertThat(w.getFailurePolicy()).isEqualTo("Ignore");
                    assertThat(w.getTimeoutSeconds()).isEqualTo(5);
                });

        Manifests ephemeral = render(Map.of("controlPlane.persistence.enabled", "false"));
        assertThat(ephemeral.has("PersistentVolumeClaim")).isFalse();
        assertThat(ephemeral.get("Deployment", "trellis-control-plane", Deployment.class).getSpec().getTemplate().getSpec()
                .getVolumes()).anySatisfy(v -> {
                    assertThat(v.getName()).isEqualTo("data");
                    assertThat(v.getEmptyDir()).isNotNull();
                });

        Manifests own = render(Map.of("injector.tls.existingSecret", "my-webhook-cert", "injector.tls.caBundle", "MY-CA-PEM"));
        assertThat(own.has("Secret")).isFalse();
        assertThat(own.get("MutatingWebhookConfiguration", "trellis-injector", MutatingWebhookConfiguration.class)
                .getWebhooks().get(0).getClientConfig().getCaBundle())
                .isEqualTo(Base64.getEncoder().encodeToString("MY-CA-PEM".getBytes(StandardCharsets.UTF_8)));

        Manifests noInjector = render(Map.of("injector.enabled", "false"));
        assertThat(noInjector.has("MutatingWebhookConfiguration")).isFalse();
        assertThat(controlPlaneConfig(noInjector).at("/trellis/injector/enabled").asBoolean(true)).isFalse();
    }

    @Test
    void valuesThatMakeNoSenseAreRefusedWithTheirName() {
        assertThatThrownBy(() -> render(Map.of(), "1.28.4")).hasMessageContaining("injector.nativeSidecar")
                .hasMessageContaining("1.29");
        assertThatThrownBy(() -> render(Map.of("injector.tls.existingSecret", "my-webhook-cert")))
                .hasMessageContaining("injector.tls.caBundle");
        assertThatThrownBy(() -> render(Map.of("injector.failurePolicy", "Sometimes")))
                .hasMessageContaining("failurePolicy");
        assertThatThrownBy(() -> render(Map.of("controlPlane.replicas", "3"))).hasMessageContaining("replicas");
        assertThatThrownBy(() -> render(Map.of("sidecar.resources.memory", "lots"))).hasMessageContaining("memory");
    }

    @Test
    void aControlPlaneRunWithTheRenderedConfigurationAnswersTheWebhookOverTlsTheApiServerWouldTrust() throws Exception {
        int api = freePort();
        int https = freePort();
        int grpc = freePort();
        Manifests manifests = render(Map.of("controlPlane.service.apiPort", api, "controlPlane.service.httpsPort", https,
                "controlPlane.service.grpcPort", grpc));
        Secret tls = manifests.get("Secret", "trellis-control-plane-webhook-tls", Secret.class);
        Path certs = Files.createDirectories(dir.resolve("webhook"));
        Files.write(certs.resolve("tls.crt"), Base64.getDecoder().decode(tls.getData().get("tls.crt")));
        Files.write(certs.resolve("tls.key"), Base64.getDecoder().decode(tls.getData().get("tls.key")));
        Path caBundle = dir.resolve("ca.pem");
        Files.write(caBundle, Base64.getDecoder().decode(manifests.get("MutatingWebhookConfiguration", "trellis-injector",
                MutatingWebhookConfiguration.class).getWebhooks().get(0).getClientConfig().getCaBundle()));
        // The container's paths, where this test keeps them; everything else as rendered.
        String yml = manifests.get("ConfigMap", "trellis-control-plane", ConfigMap.class).getData().get("control-plane.yml")
                .replace("/etc/trellis/webhook", certs.toString()).replace("/var/lib/trellis", dir.resolve("data").toString())
                .replace("host: 0.0.0.0", "host: 127.0.0.1").replace("grpc-host: 0.0.0.0", "grpc-host: 127.0.0.1");
        Path config = dir.resolve("control-plane.yml");
        Files.writeString(config, yml);
        Path ready = dir.resolve("ready");

        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                "io.trellis.controlplane.Main", "--ready-file", ready.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("control-plane.log").toFile());
        builder.environment().put("MICRONAUT_CONFIG_FILES", config.toString());
        Process controlPlane = builder.start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while (!Files.exists(ready) && controlPlane.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertThat(Files.exists(ready)).as(Files.readString(dir.resolve("control-plane.log"))).isTrue();
            Path review = dir.resolve("review.json");
            try (var in = HelmChartTest.class.getResourceAsStream("/admission/deployment-pod.json")) {
                Files.write(review, in.readAllBytes());
            }

            String answer = curl("-sS", "--fail-with-body", "--cacert", caBundle.toString(), "--resolve",
                    HOST + ":" + https + ":127.0.0.1", "-H", "Content-Type: application/json",
                    "--data-binary", "@" + review, "https://" + HOST + ":" + https + "/inject");

            JsonNode response = YAML.readTree(answer).path("response");
            assertThat(response.path("allowed").asBoolean()).isTrue();
            JsonNode patch = YAML.readTree(Base64.getDecoder().decode(response.path("patch").asText()));
            assertThat(patch.toString()).contains("trellis-proxy").contains(HOST + ":" + grpc)
                    .as("the chart's sidecar image").contains("trellis/sidecar:0.1.0");
        } finally {
            controlPlane.destroy();
            if (!controlPlane.waitFor(20, TimeUnit.SECONDS)) {
                controlPlane.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    private static ContainerPort port(Container container, String name) {
        return container.getPorts().stream().filter(p -> name.equals(p.getName())).findFirst()
                .orElseThrow(() -> new AssertionError("no container port named " + name));
    }

    private static X509Certificate certificate(String pem) throws Exception {
        return (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
    }

    private static int freePort() throws Exception {
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static String curl(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("curl", "--max-time", "20"));
        command.addAll(List.of(args));
        Process curl = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(curl.waitFor()).as(out).isZero();
        return out;
    }
}
