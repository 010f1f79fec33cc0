package io.trellis.controlplane.inject;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Volume;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import io.micronaut.test.support.TestPropertyProvider;
import io.micronaut.runtime.server.EmbeddedServer;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The webhook as the API server calls it: AdmissionReview JSON in the shapes of the Kubernetes API reference, POSTed
 * over HTTP to a running control plane (JDK HttpClient), the answer's patch applied to the pod as the API server
 * would, and the result read back as a fabric8 Pod.
 */
@MicronautTest
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdmissionWebhookTest implements TestPropertyProvider {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient client = HttpClient.newHttpClient();

    @Inject
    EmbeddedServer server;

    @Override
    public Map<String, String> getProperties() {
        try {
            return Map.of("micronaut.server.port", "-1", "trellis.grpc-port", "0",
                    "trellis.data-dir", Files.createTempDirectory("trellis-inject").resolve("data").toString(),
                    "trellis.injector.enabled", "true",
                    "trellis.injector.control-plane", "trellis.trellis-system.svc:15010");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A review answered: its status, its body, and the pod with the patch applied. */
    private record Answer(int status, JsonNode body, JsonNode pod) {
        JsonNode response() {
            return body.path("response");
        }

        Pod patched() {
            return JSON.convertValue(pod, Pod.class);
        }

        List<String> warnings() {
            if (!response().has("warnings")) {
                return List.of();
            }
            return JSON.convertValue(response().path("warnings"), JSON.getTypeFactory().constructCollectionType(List.class, String.class));
        }
    }

    private static ObjectNode fixture(String name) throws IOException {
        try (InputStream in = AdmissionWebhookTest.class.getResourceAsStream("/admission/" + name)) {
            return (ObjectNode) JSON.readTree(in);
        }
    }

    private Answer review(ObjectNode review, String query) throws Exception {
        HttpResponse<String> response = post(JSON.writeValueAsString(review), query);
        JsonNode body = JSON.readTree(response.body());
        JsonNode pod = review.path("request").path("object").deepCopy();
        String patch = body.path("response").path("patch").asText("");
        if (!patch.isEmpty()) {
            JsonNode operations = JSON.readTree(Base64.getDecoder().decode(patch));
            List<JsonPatch.Add> adds = new java.util.ArrayList<>();
            for (JsonNode op : operations) {
                assertThat(op.path("op").asText()).isEqualTo("add");
                adds.add(new JsonPatch.Add(op.path("path").asText(), op.path("value")));
            }
            new JsonPatch(adds).applyTo(pod);
        }
        return new Answer(response.statusCode(), body, pod);
    }

    private Answer review(String fixture, Consumer<ObjectNode> change) throws Exception {
        ObjectNode review = fixture(fixture);
        change.accept((ObjectNode) review.path("request").path("object"));
        return review(review, "");
    }

    private HttpResponse<String> post(String body, String query) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.getPort() + "/inject" + query))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static ObjectNode annotations(ObjectNode pod) {
        ObjectNode metadata = (ObjectNode) pod.path("metadata");
        return metadata.has("annotations") ? (ObjectNode) metadata.get("annotations") : metadata.putObject("annotations");
    }

    private static Container container(List<Container> containers, String name) {
        return containers.stream().filter(c -> c.getName().equals(name)).findFirst().orElseThrow(
                () -> new AssertionError("no container " + name + " in " + containers.stream().map(Container::getName).toList()));
    }

    private static Map<String, EnvVar> env(Container container) {
        return container.getEnv().stream().collect(Collectors.toMap(EnvVar::getName, e -> e));
    }

    @Test
    void aDeploymentsPodGetsTheInitContainerThenTheProxyAsANativeSidecarThatStartsFirst() throws Exception {
        Answer answer = review("deployment-pod.json", pod -> { });

        assertThat(answer.status()).isEqualTo(200);
        assertThat(answer.body().path("apiVersion").asText()).isEqualTo("admission.k8s.io/v1");
        assertThat(answer.body().path("kind").asText()).isEqualTo("AdmissionReview");
        assertThat(answer.response().path("uid").asText()).isEqualTo("0df28fbd-5f5f-11e8-bc74-36e6bb280816");
        assertThat(answer.response().path("allowed").asBoolean()).isTrue();
        assertThat(answer.response().path("patchType").asText()).isEqualTo("JSONPatch");

        Pod pod = answer.patched();
        assertThat(pod.getSpec().getInitContainers()).extracting(Container::getName)
                .containsExactly(PodInjector.INIT, PodInjector.PROXY);
        assertThat(pod.getSpec().getContainers()).extracting(Container::getName).containsExactly("inventory");
        Container proxy = container(pod.getSpec().getInitContainers(), PodInjector.PROXY);
        assertThat(proxy.getRestartPolicy()).isEqualTo("Always");
        assertThat(proxy.getStartupProbe().getHttpGet().getPath()).isEqualTo("/healthz/ready");
        assertThat(proxy.getStartupProbe().getHttpGet().getPort().getIntVal()).isEqualTo(PodInjector.ADMIN_PORT);
        assertThat(proxy.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/healthz/ready");
        assertThat(proxy.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/healthz/live");
        assertThat(proxy.getSecurityContext().getRunAsUser()).isEqualTo(1337L);
        assertThat(proxy.getSecurityContext().getRunAsNonRoot()).isTrue();
        assertThat(proxy.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
        assertThat(proxy.getSecurityContext().getPrivileged()).isFalse();
        assertThat(proxy.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
        assertThat(proxy.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(proxy.getResources().getRequests()).containsKeys("cpu", "memory");
        assertThat(proxy.getResources().getLimits()).containsKey("memory");

        Map<String, EnvVar> env = env(proxy);
        assertThat(env.get("TRELLIS_SERVICE").getValue()).isEqualTo("inventory");
        assertThat(env.get("TRELLIS_APP_PORT").getValue()).isEqualTo("8080");
        assertThat(env.get("TRELLIS_NAMESPACE").getValueFrom().getFieldRef().getFieldPath()).isEqualTo("metadata.namespace");
        assertThat(env.get("TRELLIS_POD_NAME").getValueFrom().getFieldRef().getFieldPath()).isEqualTo("metadata.name");
        assertThat(env.get("TRELLIS_BIND_ADDRESS").getValueFrom().getFieldRef().getFieldPath()).isEqualTo("status.podIP");
        assertThat(env.get("TRELLIS_SERVICE_ACCOUNT").getValueFrom().getFieldRef().getFieldPath())
                .isEqualTo("spec.serviceAccountName");
        assertThat(env.get("TRELLIS_CONTROL_PLANE").getValue()).isEqualTo("trellis.trellis-system.svc:15010");
        assertThat(env.get("TRELLIS_TRUST_DOMAIN").getValue()).isEqualTo("cluster.local");
        assertThat(env.get("TRELLIS_LABEL").getValue()).as("subset labels, not the controller's hash")
                .isEqualTo("app=inventory,version=v2");

        Container app = container(pod.getSpec().getContainers(), "inventory");
        assertThat(app.getReadinessProbe().getHttpGet().getPath()).as("asked through the proxy's admin port")
                .isEqualTo("/app-health/inventory/readiness");
        assertThat(app.getReadinessProbe().getHttpGet().getPort().getIntVal()).isEqualTo(PodInjector.ADMIN_PORT);
        assertThat(app.getReadinessProbe().getPeriodSeconds()).isEqualTo(5);
        assertThat(env.get("TRELLIS_APP_PROBE").getValue()).isEqualTo("inventory/readiness=8080:/ready");

        Container init = container(pod.getSpec().getInitContainers(), PodInjector.INIT);
        assertThat(init.getArgs()).containsSequence("--proxy-uid", "1337").containsSequence("--outbound-port", "15001")
                .containsSequence("--inbound-port", "15006").containsSequence("--exclude-inbound-ports", "15002,15006,15008,15020");
        assertThat(init.getSecurityContext().getCapabilities().getAdd()).containsExactlyInAnyOrder("NET_ADMIN", "NET_RAW");
        assertThat(init.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(init.getSecurityContext().getPrivileged()).isFalse();

        Map<String, Volume> volumes = pod.getSpec().getVolumes().stream().collect(Collectors.toMap(Volume::getName, v -> v));
        assertThat(volumes).containsKeys("kube-api-access-x7k2p", "trellis-token", "trellis-bundle", "trellis-state", "trellis-tmp");
        assertThat(proxy.getVolumeMounts()).as("a writable /tmp beside the read-only root, for the native libraries")
                .anySatisfy(mount -> assertThat(mount.getMountPath()).isEqualTo("/tmp"));
        assertThat(volumes.get("trellis-token").getProjected().getSources().get(0).getServiceAccountToken().getAudience())
                .isEqualTo("trellis");
        assertThat(volumes.get("trellis-bundle").getDownwardAPI().getItems().get(0).getFieldRef().getFieldPath())
                .isEqualTo("metadata.annotations['trellis.io/ca-bundle']");
        assertThat(volumes.get("trellis-state").getEmptyDir().getMedium()).isEqualTo("Memory");
        assertThat(proxy.getVolumeMounts()).allSatisfy(mount -> assertThat(volumes).containsKey(mount.getName()));
        assertThat(pod.getMetadata().getAnnotations().get("trellis.io/ca-bundle")).startsWith("-----BEGIN CERTIFICATE-----");
        assertThat(pod.getMetadata().getAnnotations()).containsEntry("trellis.io/status", "injected");
    }

    @Test
    void aJobsPodGetsTheProxyAsANativeSidecarSoTheJobEndsWhenItsContainerDoesAndTheAppsInitContainersRunBehindIt()
            throws Exception {
        Answer answer = review("job-pod.json", pod -> { });

        Pod pod = answer.patched();
        assertThat(pod.getSpec().getContainers()).extracting(Container::getName).as("the Job's only container")
                .containsExactly("report");
        assertThat(pod.getSpec().getInitContainers()).extracting(Container::getName)
                .containsExactly(PodInjector.INIT, PodInjector.PROXY, "wait-for-inventory");
        Container proxy = container(pod.getSpec().getInitContainers(), PodInjector.PROXY);
        assertThat(proxy.getRestartPolicy()).isEqualTo("Always");
        Map<String, EnvVar> env = env(proxy);
        assertThat(env.get("TRELLIS_APP_PORT").getValue()).isEqualTo("9000");
        assertThat(env.get("TRELLIS_UPSTREAM").getValue()).isEqualTo("inventory=9191");
        assertThat(env.get("TRELLIS_SERVICE").getValue()).isEqualTo("nightly-report");
        assertThat(env.get("TRELLIS_LABEL").getValue()).isEqualTo("app.kubernetes.io/name=nightly-report");
        assertThat(answer.warnings()).isEmpty();

        Answer portless = review("job-pod.json", object -> annotations(object).remove("trellis.io/app-port"));
        assertThat(env(container(portless.patched().getSpec().getInitContainers(), PodInjector.PROXY))
                .get("TRELLIS_APP_PORT").getValue()).as("a pod that serves nothing still calls out").isEqualTo("0");
    }

    @Test
    void everyAnnotationShapesThePatch() throws Exception {
        Answer answer = review("deployment-pod.json", pod -> annotations(pod)
                .put("trellis.io/service", "stock")
                .put("trellis.io/app-port", "9090")
                .put("trellis.io/app-protocol", "h2c")
                .put("trellis.io/upstreams", "inventory=9191, cache:6379=6380/tcp")
                .put("trellis.io/exclude-outbound-ports", "5432,443")
                .put("trellis.io/exclude-inbound-ports", "9999")
                .put("trellis.io/proxy-cpu", "250m")
                .put("trellis.io/proxy-memory", "384Mi"));

        Pod pod = answer.patched();
        Container proxy = container(pod.getSpec().getInitContainers(), PodInjector.PROXY);
        Map<String, EnvVar> env = env(proxy);
        assertThat(env.get("TRELLIS_SERVICE").getValue()).isEqualTo("stock");
        assertThat(env.get("TRELLIS_APP_PORT").getValue()).isEqualTo("9090");
        assertThat(env.get("TRELLIS_APP_PROTOCOL").getValue()).isEqualTo("h2c");
        assertThat(env.get("TRELLIS_UPSTREAM").getValue()).isEqualTo("inventory=9191,cache:6379=6380/tcp");
        assertThat(proxy.getResources().getRequests().get("cpu").toString()).isEqualTo("250m");
        assertThat(proxy.getResources().getRequests().get("memory").toString()).isEqualTo("384Mi");
        assertThat(proxy.getResources().getLimits().get("memory").toString()).isEqualTo("384Mi");
        Container init = container(pod.getSpec().getInitContainers(), PodInjector.INIT);
        assertThat(init.getArgs()).containsSequence("--exclude-outbound-ports", "443,5432")
                .containsSequence("--exclude-inbound-ports", "9999,15002,15006,15008,15020");
        assertThat(pod.getMetadata().getAnnotations()).containsEntry("trellis.io/proxy-cpu", "250m");
        assertThat(answer.warnings()).isEmpty();
    }

    @Test
    void annotationsItDoesNotUnderstandAreLeftOutWithAWarningThatNamesThem() throws Exception {
        Answer answer = review("deployment-pod.json", pod -> annotations(pod)
                .put("trellis.io/app-port", "http")
                .put("trellis.io/upstreams", "inventory=9191,=80,cache=99999")
                .put("trellis.io/exclude-outbound-ports", "5432,all")
                .put("trellis.io/proxy-memory", "lots"));

        assertThat(answer.response().path("allowed").asBoolean()).isTrue();
        assertThat(answer.warnings()).anySatisfy(w -> assertThat(w).startsWith("trellis: trellis.io/app-port: 'http'"))
                .anySatisfy(w -> assertThat(w).startsWith("trellis: trellis.io/upstreams: '=80'"))
                .anySatisfy(w -> assertThat(w).startsWith("trellis: trellis.io/upstreams: 'cache=99999'"))
                .anySatisfy(w -> assertThat(w).startsWith("trellis: trellis.io/exclude-outbound-ports: 'all'"))
                .anySatisfy(w -> assertThat(w).startsWith("trellis: trellis.io/proxy-memory: 'lots'"));
        Container proxy = container(answer.patched().getSpec().getInitContainers(), PodInjector.PROXY);
        assertThat(env(proxy).get("TRELLIS_APP_PORT").getValue()).as("the declared containerPort").isEqualTo("8080");
        assertThat(env(proxy).get("TRELLIS_UPSTREAM").getValue()).isEqualTo("inventory=9191");
        assertThat(proxy.getResources().getLimits().get("memory").toString()).isEqualTo("320Mi");
    }

    @Test
    void probesTheProxyCannotAskForTheAppAreLeftWithAWarningAndNamedPortsAreResolved() throws Exception {
        Answer answer = review("deployment-pod.json", pod -> {
            ObjectNode app = (ObjectNode) pod.path("spec").path("containers").path(0);
            app.putObject("livenessProbe").putObject("httpGet").put("path", "/live").put("port", "http");
            app.putObject("startupProbe").putObject("httpGet").put("path", "/started").put("port", 8443).put("scheme", "HTTPS");
        });

        Container app = container(answer.patched().getSpec().getContainers(), "inventory");
        assertThat(app.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/app-health/inventory/liveness");
        assertThat(app.getStartupProbe().getHttpGet().getPath()).isEqualTo("/started");
        assertThat(answer.warnings()).singleElement().asString().contains("inventory startup probe").contains("HTTPS")
                .contains("trellis.io/exclude-inbound-ports");
        Container proxy = container(answer.patched().getSpec().getInitContainers(), PodInjector.PROXY);
        assertThat(env(proxy).get("TRELLIS_APP_PROBE").getValue())
                .isEqualTo("inventory/liveness=8080:/live,inventory/readiness=8080:/ready");
    }

    @Test
    void aClassicSidecarsPodHasItsProbesRewrittenAtTheAppsOwnIndex() throws Exception {
        InjectorSettings classic = new InjectorSettings(true, "p:1", "i:1", false, "cp:15010", "100m", "256Mi", "320Mi",
                null, "trellis");
        ObjectMapper mapper = PodInjector.newMapper();
        ObjectNode pod = (ObjectNode) fixture("deployment-pod.json").path("request").path("object");
        PodInjector.Injection injection = new PodInjector(classic, mapper).inject(mapper.convertValue(pod, Pod.class),
                PodInjector.Scope.NAMESPACE, "cluster.local", "-----BEGIN CERTIFICATE-----\n");
        injection.patch().applyTo(pod);

        Pod patched = JSON.convertValue(pod, Pod.class);
        assertThat(patched.getSpec().getContainers()).extracting(Container::getName).containsExactly(PodInjector.PROXY, "inventory");
        assertThat(patched.getSpec().getContainers().get(0).getReadinessProbe().getHttpGet().getPath()).isEqualTo("/healthz/ready");
        assertThat(patched.getSpec().getContainers().get(1).getReadinessProbe().getHttpGet().getPath())
                .isEqualTo("/app-health/inventory/readiness");
    }

    @Test
    void aPodInjectedTwiceIsUnchangedTheSecondTime() throws Exception {
        ObjectNode review = fixture("deployment-pod.json");
        Answer first = review(review, "");
        review.withObject("/request").set("object", first.pod());

        Answer second = review(review, "");

        assertThat(second.response().path("allowed").asBoolean()).isTrue();
        assertThat(second.response().has("patch")).isFalse();
        assertThat(second.pod()).isEqualTo(first.pod());
    }

    @Test
    void aPodOfANamespaceThatIsNotInjectedPassesUntouchedUnlessItOptsIn() throws Exception {
        Answer plain = review(fixture("deployment-pod.json"), "/pod");
        assertThat(plain.response().path("allowed").asBoolean()).isTrue();
        assertThat(plain.response().has("patch")).isFalse();
        assertThat(plain.warnings()).isEmpty();

        ObjectNode optedIn = fixture("deployment-pod.json");
        ((ObjectNode) optedIn.path("request").path("object").path("metadata").path("labels")).put("trellis.io/inject", "enabled");
        assertThat(review(optedIn, "/pod").patched().getSpec().getInitContainers()).hasSize(2);
    }

    @Test
    void aPodThatOptsOutOfAnInjectedNamespaceIsLeftAlone() throws Exception {
        Answer answer = review("deployment-pod.json", pod -> annotations(pod).put("trellis.io/inject", "disabled"));

        assertThat(answer.response().has("patch")).isFalse();
        assertThat(answer.pod().path("spec").has("initContainers")).isFalse();
    }

    @Test
    void podsItCannotMeshPassUntouchedWithAWarningThatSaysWhy() throws Exception {
        Answer hostNetwork = review("deployment-pod.json", pod -> ((ObjectNode) pod.path("spec")).put("hostNetwork", true));
        assertThat(hostNetwork.response().has("patch")).isFalse();
        assertThat(hostNetwork.warnings()).singleElement().asString().startsWith("trellis: not injected:").contains("hostNetwork");

        Answer nameless = review("deployment-pod.json", pod -> ((ObjectNode) pod.path("metadata")).putObject("labels"));
        assertThat(nameless.response().has("patch")).isFalse();
        assertThat(nameless.warnings()).singleElement().asString().contains("no service name");
    }

    @Test
    void anythingButAPodsCreationIsAllowedUnchanged() throws Exception {
        ObjectNode update = fixture("deployment-pod.json");
        update.withObject("/request").put("operation", "UPDATE");
        assertThat(review(update, "").response().has("patch")).isFalse();

        ObjectNode deployment = fixture("deployment-pod.json");
        deployment.withObject("/request").putObject("kind").put("group", "apps").put("version", "v1").put("kind", "Deployment");
        Answer answer = review(deployment, "");
        assertThat(answer.status()).isEqualTo(200);
        assertThat(answer.response().path("allowed").asBoolean()).isTrue();
        assertThat(answer.response().has("patch")).isFalse();
    }

    @Test
    void aMalformedReviewGetsA400ThatSaysWhatIsWrong() throws Exception {
        Map<String, String> cases = new java.util.LinkedHashMap<>();
        cases.put("{\"kind\": \"AdmissionReview\", \"apiVersion\": ", "the body is not JSON");
        cases.put("[1, 2]", "not a JSON object");
        cases.put("{\"kind\": \"AdmissionReview\", \"apiVersion\": \"admission.k8s.io/v1beta1\", \"request\": {}}",
                "apiVersion: 'admission.k8s.io/v1beta1' (expected admission.k8s.io/v1)");
        cases.put("{\"kind\": \"AdmissionReview\", \"apiVersion\": \"admission.k8s.io/v1\"}", "request: missing");
        cases.put("{\"kind\": \"AdmissionReview\", \"apiVersion\": \"admission.k8s.io/v1\", \"request\": {\"kind\": {\"kind\": \"Pod\"}}}",
                "request.uid: missing");
        cases.put("{\"kind\": \"AdmissionReview\", \"apiVersion\": \"admission.k8s.io/v1\", \"request\": {\"uid\": \"u\","
                + " \"kind\": {\"group\": \"\", \"version\": \"v1\", \"kind\": \"Pod\"}, \"operation\": \"CREATE\","
                + " \"object\": {\"metadata\": {}, \"spec\": {\"containers\": \"many\"}}}}", "request.object: not a pod");
        cases.put("{\"kind\": \"AdmissionReview\", \"apiVersion\": \"admission.k8s.io/v1\", \"request\": {\"uid\": \"u\","
                + " \"kind\": {\"group\": \"\", \"version\": \"v1\", \"kind\": \"Pod\"}, \"operation\": \"CREATE\"}}",
                "request.object: missing");
        cases.put("", "the body is not");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            HttpResponse<String> response = post(c.getKey(), "");
            assertThat(response.statusCode()).as(c.getKey()).isEqualTo(400);
            JsonNode body = JSON.readTree(response.body());
            assertThat(body.path("error").asText()).as(c.getKey()).isEqualTo("invalid");
            assertThat(body.path("message").asText()).as(c.getKey()).contains(c.getValue());
        }
    }
}
