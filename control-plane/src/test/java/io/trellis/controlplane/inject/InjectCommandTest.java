package io.trellis.controlplane.inject;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.CronJob;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.trellis.certs.CertificateAuthority;
import io.trellis.certs.Pem;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code trellis inject -f}: manifests in, injected manifests out, read back by strict models. */
class InjectCommandTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    @TempDir
    Path dir;

    private record Run(int exit, String out, String err) {
        List<JsonNode> documents() throws IOException {
            List<JsonNode> documents = new ArrayList<>();
            var values = YAML.readerFor(JsonNode.class).<JsonNode>readValues(out);
            while (values.hasNextValue()) {
                documents.add(values.nextValue());
            }
            return documents;
        }
    }

    private Run run(String stdin, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = InjectCommand.run(args, new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private Path bundle() throws IOException {
        Path bundle = dir.resolve("bundle.pem");
        Files.writeString(bundle, Pem.encodeCertificates(List.of(
                CertificateAuthority.generateRoot("cluster.local", Clock.systemUTC()).root())));
        return bundle;
    }

    private static String manifests() throws IOException {
        try (var in = InjectCommandTest.class.getResourceAsStream("/manifests/workloads.yaml")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static List<String> initNames(PodTemplateSpec template) {
        return template.getSpec().getInitContainers().stream().map(Container::getName).toList();
    }

    @Test
    void everyKindOfWorkloadHasItsPodTemplateInjectedAndEverythingElsePassesThrough() throws Exception {
        Run run = run(manifests(), "-f", "-", "--ca-bundle", bundle().toString(), "--control-plane", "cp.trellis:15010");

        assertThat(run.exit()).as(run.err()).isZero();
        List<JsonNode> docs = run.documents();
        assertThat(docs).extracting(d -> d.path("kind").asText())
                .containsExactly("Deployment", "Service", "CronJob", "StatefulSet", "DaemonSet", "Job", "Deployment");
        Deployment inventory = YAML.convertValue(docs.get(0), Deployment.class);
        assertThat(initNames(inventory.getSpec().getTemplate())).containsExactly(PodInjector.INIT, PodInjector.PROXY);
        Container proxy = inventory.getSpec().getTemplate().getSpec().getInitContainers().get(1);
        assertThat(proxy.getEnv()).anySatisfy(env -> {
            assertThat(env.getName()).isEqualTo("TRELLIS_CONTROL_PLANE");
            assertThat(env.getValue()).isEqualTo("cp.trellis:15010");
        });
        assertThat(docs.get(1)).isEqualTo(YAML.readTree(manifests().split("---")[1]));
        CronJob nightly = YAML.convertValue(docs.get(2), CronJob.class);
        assertThat(initNames(nightly.getSpec().getJobTemplate().getSpec().getTemplate()))
                .containsExactly(PodInjector.INIT, PodInjector.PROXY);
        StatefulSet ledger = YAML.convertValue(docs.get(3), StatefulSet.class);
        assertThat(initNames(ledger.getSpec().getTemplate())).containsExactly(PodInjector.INIT, PodInjector.PROXY, "migrate");
        assertThat(ledger.getSpec().getTemplate().getSpec().getVolumes()).extracting(v -> v.getName())
                .startsWith("scratch").contains("trellis-token", "trellis-bundle");
        DaemonSet agent = YAML.convertValue(docs.get(4), DaemonSet.class);
        assertThat(agent.getSpec().getTemplate().getSpec().getInitContainers()).isEmpty();
        assertThat(run.err()).contains("DaemonSet/node-agent: not injected: the pod uses the node's network");
        Job backfill = YAML.convertValue(docs.get(5), Job.class);
        assertThat(backfill.getSpec().getTemplate().getSpec().getContainers()).extracting(Container::getName)
                .containsExactly("backfill");
        assertThat(initNames(backfill.getSpec().getTemplate())).containsExactly(PodInjector.INIT, PodInjector.PROXY);
        Deployment legacy = YAML.convertValue(docs.get(6), Deployment.class);
        assertThat(legacy.getSpec().getTemplate().getSpec().getInitContainers()).as("opted out").isEmpty();
    }

    @Test
    void onAnOlderClusterTheProxyIsAClassicContainerAndAJobIsToldHowToEndIt() throws Exception {
        Run run = run(manifests(), "-f", "-", "--ca-bundle", bundle().toString(), "--classic-sidecar");

        Deployment inventory = YAML.convertValue(run.documents().get(0), Deployment.class);
        assertThat(initNames(inventory.getSpec().getTemplate())).containsExactly(PodInjector.INIT);
        assertThat(inventory.getSpec().getTemplate().getSpec().getContainers()).extracting(Container::getName)
                .containsExactly(PodInjector.PROXY, "inventory");
        assertThat(inventory.getSpec().getTemplate().getSpec().getContainers().get(0).getRestartPolicy()).isNull();
        assertThat(run.err()).contains("Job/backfill: a classic sidecar keeps this pod running after its app exits")
                .contains("POST http://127.0.0.1:15002/shutdown").doesNotContain("Deployment/inventory");
    }

    @Test
    void numbersInArgumentsStayStringsSoTheApiServerAcceptsThem() throws Exception {
        Run run = run(manifests(), "-f", "-", "--ca-bundle", bundle().toString());

        JsonNode args = run.documents().get(0).path("spec").path("template").path("spec").path("initContainers")
                .path(0).path("args");
        assertThat(args).isNotEmpty().allSatisfy(arg -> assertThat(arg.isTextual()).as(arg.toString()).isTrue());
    }

    @Test
    void injectingItsOwnOutputChangesNothing() throws Exception {
        Path input = dir.resolve("deploy.yaml");
        Files.writeString(input, manifests());
        Run once = run("", "-f", input.toString(), "--ca-bundle", bundle().toString());

        Run twice = run(once.out(), "-f", "-", "--ca-bundle", dir.resolve("bundle.pem").toString());

        assertThat(twice.exit()).isZero();
        assertThat(twice.out()).isEqualTo(once.out());
    }

    @Test
    void helpSaysHowToCallIt() {
        Run help = run("", "--help");
        assertThat(help.exit()).isZero();
        assertThat(help.out()).startsWith("usage: trellis inject -f FILE|- --ca-bundle FILE");
    }

    @Test
    void badFlagsAndUnreadableFilesAreNamed() throws Exception {
        assertThat(run("", "-f", "-")).satisfies(r -> {
            assertThat(r.exit()).isEqualTo(2);
            assertThat(r.err()).contains("--ca-bundle is required");
        });
        assertThat(run("", "-f", "-", "--ca-bundle", bundle().toString(), "--namespace", "x").err())
                .contains("unknown flag --namespace");
        assertThat(run("", "-f", dir.resolve("missing.yaml").toString(), "--ca-bundle", bundle().toString()))
                .satisfies(r -> {
                    assertThat(r.exit()).isEqualTo(1);
                    assertThat(r.err()).contains("missing.yaml");
                });
        assertThat(run("kind: [unclosed", "-f", "-", "--ca-bundle", bundle().toString()).exit()).isEqualTo(1);
        Path notPem = dir.resolve("not.pem");
        Files.writeString(notPem, "hello");
        assertThat(run("", "-f", "-", "--ca-bundle", notPem.toString()).err()).contains("no PEM certificate");
    }
}
