package io.trellis.controlplane.inject;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import io.fabric8.kubernetes.api.model.Pod;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code trellis inject -f FILE --ca-bundle FILE [flags]}: the injector offline. Reads Kubernetes manifests (YAML, one
 * or more documents; {@code -f -} reads standard input) and writes them to standard output with every pod template
 * injected by the same code the webhook runs (Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and
 * CronJobs; every other document passes through). What it left out, and why, goes to standard error.
 */
public final class InjectCommand {
    private static final String USAGE = """
            usage: trellis inject -f FILE|- --ca-bundle FILE [--trust-domain cluster.local] \
            [--control-plane HOST:PORT] [--proxy-image IMAGE] [--init-image IMAGE] [--classic-sidecar]""";

    private InjectCommand() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.in, System.out, System.err));
    }

    /** Runs the command; the exit code is 0, 1 (a file could not be read or is not YAML) or 2 (a bad flag). */
    static int run(String[] args, InputStream stdin, PrintStream out, PrintStream err) {
        if (List.of(args).contains("--help") || List.of(args).contains("-h")) {
            out.println(USAGE);
            out.println("Writes the manifests of FILE with every pod template injected; what was left out goes to stderr.");
            return 0;
        }
        Map<String, String> flags;
        try {
            flags = flags(args);
        } catch (IllegalArgumentException e) {
            err.println("trellis inject: " + e.getMessage());
            err.println(USAGE);
            return 2;
        }
        InjectorSettings defaults = InjectorSettings.defaults();
        ObjectMapper json = PodInjector.newMapper();
        PodInjector injector;
        String bundle;
        try {
            injector = new PodInjector(defaults.with(flags.getOrDefault("--proxy-image", defaults.proxyImage()),
                    flags.getOrDefault("--init-image", defaults.initImage()), !flags.containsKey("--classic-sidecar"),
                    flags.getOrDefault("--control-plane", defaults.controlPlane())), json);
            bundle = Files.readString(Path.of(flags.get("--ca-bundle")));
            if (!bundle.contains("-----BEGIN CERTIFICATE-----")) {
                throw new IllegalArgumentException("--ca-bundle " + flags.get("--ca-bundle") + ": no PEM certificate in it");
            }
        } catch (IllegalArgumentException e) {
            err.println("trellis inject: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println("trellis inject: --ca-bundle " + flags.get("--ca-bundle") + ": cannot be read (" + e + ")");
            return 1;
        }
        String trustDomain = flags.getOrDefault("--trust-domain", "cluster.local");
        ObjectMapper yaml = new ObjectMapper(YAMLFactory.builder().disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
                .enable(YAMLGenerator.Feature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS).build());
        List<JsonNode> documents = new ArrayList<>();
        String file = flags.get("-f");
        try (InputStream in = file.equals("-") ? stdin : Files.newInputStream(Path.of(file));
             MappingIterator<JsonNode> docs = yaml.readerFor(JsonNode.class).readValues(in)) {
            while (docs.hasNextValue()) {
                JsonNode document = docs.nextValue();
                if (document != null && !document.isNull() && !document.isMissingNode()) {
                    documents.add(document);
                }
            }
        } catch (IOException e) {
            err.println("trellis inject: " + file + ": " + AdmissionWebhook.firstLine(e));
            return 1;
        }
        StringBuilder written = new StringBuilder();
        for (JsonNode document : documents) {
            if (document instanceof ObjectNode object) {
                ObjectNode template = podTemplate(object);
                if (template != null) {
                    inject(object, template, injector, json, trustDomain, bundle, err);
                }
            }
            try {
                written.append(written.isEmpty() ? "" : "---\n").append(yaml.writeValueAsString(document));
            } catch (IOException e) {
                throw new IllegalStateException("a manifest did not serialize", e);
            }
        }
        out.print(written);
        out.flush();
        return 0;
    }

    /** The pod (or pod template) inside a workload, shaped like a pod: {@code metadata} and {@code spec}. */
    private static ObjectNode podTemplate(ObjectNode document) {
        String kind = document.path("kind").asText("");
        JsonNode template = switch (kind) {
            case "Pod" -> document;
            case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job" -> document.path("spec").path("template");
            case "CronJob" -> document.path("spec").path("jobTemplate").path("spec").path("template");
            default -> null;
        };
        return template instanceof ObjectNode object && object.path("spec").isObject() ? object : null;
    }

    private static void inject(ObjectNode document, ObjectNode template, PodInjector injector, ObjectMapper json,
            String trustDomain, String bundle, PrintStream err) {
        String name = document.path("kind").asText() + "/" + document.path("metadata").path("name").asText("?");
        if (!template.path("metadata").isObject()) {
            template.putObject("metadata");
        }
        Pod pod;
        try {
            pod = json.treeToValue(template, Pod.class);
        } catch (IOException | IllegalArgumentException e) {
            err.println("trellis inject: " + name + ": not injected: its pod template is not a pod (" + AdmissionWebhook.firstLine(e) + ")");
            return;
        }
        if (pod.getMetadata().getNamespace() == null) {
            pod.getMetadata().setNamespace(document.path("metadata").path("namespace").asText("default"));
        }
        PodInjector.Injection injection = injector.inject(pod, PodInjector.Scope.NAMESPACE, trustDomain, bundle);
        injection.patch().applyTo(template);
        for (String warning : injection.warnings()) {
            err.println("trellis inject: " + name + ": " + warning);
        }
    }

    private static Map<String, String> flags(String[] args) {
        Map<String, String> flags = new java.util.HashMap<>();
        List<String> valued = List.of("-f", "--filename", "--ca-bundle", "--trust-domain", "--control-plane",
                "--proxy-image", "--init-image");
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("--classic-sidecar")) {
                flags.put(arg, "true");
            } else if (valued.contains(arg)) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(arg + " needs a value");
                }
                flags.put(arg.equals("--filename") ? "-f" : arg, args[++i]);
            } else {
                throw new IllegalArgumentException("unknown flag " + arg);
            }
        }
        for (String required : List.of("-f", "--ca-bundle")) {
            if (!flags.containsKey(required)) {
                throw new IllegalArgumentException(required + " is required");
            }
        }
        return flags;
    }

}
