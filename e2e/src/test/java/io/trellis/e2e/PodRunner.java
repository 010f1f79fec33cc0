package io.trellis.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A double of the kubelet and the container runtime, for what neither can be had here: runs a pod spec as processes
 * in a network namespace the test made, the way a kubelet would, and probes it from the node's namespace. Its init containers run first, in order, each to
 * its end; one with {@code restartPolicy: Always} (a native sidecar) is started and its startup probe polled until
 * it passes before the next one; then the app containers start, and their readiness probes are polled. Each process gets the container's env (values and
 * the downward-API fields), its args, its user and group ({@code runAsUser}), only the capabilities it adds, and its
 * volume mounts at their paths (emptyDir, the downward-API file, the projected token) in a private mount namespace
 * with its own {@code /run} (and {@code /tmp}, when the container mounts a volume there). The root file system is
 * not made read-only. Images are not pulled: each names a local command.
 */
final class PodRunner {
    private final MeshHarness mesh;
    private final String nodeNs;
    private final Map<String, List<String>> images;

    /**
     * @param nodeNs the node's network namespace, which probes come from
     * @param images an image's entrypoint, by the image's name without its tag
     */
    PodRunner(MeshHarness mesh, String nodeNs, Map<String, List<String>> images) {
        this.mesh = mesh;
        this.nodeNs = nodeNs;
        this.images = images;
    }

    /** A pod as it runs: its processes by container name. */
    record RunningPod(String name, Map<String, Process> containers) {
    }

    /**
     * Runs {@code pod} in {@code netns} at {@code podIp}.
     *
     * @param token what the projected service-account token file holds
     */
    RunningPod run(JsonNode pod, String netns, String podIp, String token) throws Exception {
        String name = pod.path("metadata").path("name").asText();
        Path dir = Files.createDirectories(mesh.work().resolve("pod-" + name));
        Map<String, Path> volumes = volumes(pod, dir, token);
        Map<String, Process> running = new LinkedHashMap<>();
        for (JsonNode init : pod.path("spec").path("initContainers")) {
            String container = init.path("name").asText();
            Process process = start(pod, init, netns, podIp, volumes, dir);
            running.put(container, process);
            if (init.path("restartPolicy").asText("").equals("Always")) {
                awaitStartupProbe(init, podIp, name, container, process);
            } else {
                if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                    throw new AssertionError("init container " + container + " of " + name + " failed:\n"
                            + mesh.logTail(logName(name, container)));
                }
            }
        }
        for (JsonNode app : pod.path("spec").path("containers")) {
            running.put(app.path("name").asText(), start(pod, app, netns, podIp, volumes, dir));
        }
        for (JsonNode app : pod.path("spec").path("containers")) {
            awaitProbe(app, "readinessProbe", Duration.ofSeconds(60), podIp, name, app.path("name").asText(),
                    running.get(app.path("name").asText()));
        }
        return new RunningPod(name, running);
    }

    static String logName(String pod, String container) {
        return pod + "-" + container + ".log";
    }

    private Process start(JsonNode pod, JsonNode container, String netns, String podIp, Map<String, Path> volumes,
            Path dir) throws IOException {
        String podName = pod.path("metadata").path("name").asText();
        String name = container.path("name").asText();
        StringBuilder script = new StringBuilder("set -e\nmount -t tmpfs -o mode=0755 pod-run /run\n");
        // /tmp last: the other volumes' directories are under the host's /tmp, which it hides.
        List<JsonNode> mounts = new ArrayList<>();
        container.path("volumeMounts").forEach(mounts::add);
        mounts.sort(java.util.Comparator.comparing(mount -> mount.path("mountPath").asText().equals("/tmp")));
        for (JsonNode mount : mounts) {
            Path source = volumes.get(mount.path("name").asText());
            if (source == null) {
                throw new AssertionError(name + " mounts " + mount.path("name").asText() + ", which the pod does not declare");
            }
            String target = mount.path("mountPath").asText();
            if (!target.startsWith("/var/run/") && !target.startsWith("/run/") && !target.equals("/tmp")) {
                throw new AssertionError(name + " mounts at " + target + ": this double mounts under /run, and /tmp, only");
            }
            script.append("mkdir -p '").append(target).append("'\nmount --bind '").append(source).append("' '")
                    .append(target).append("'\n");
            if (mount.path("readOnly").asBoolean(false)) {
                script.append("mount -o remount,bind,ro '").append(target).append("'\n");
            }
        }
        JsonNode security = container.path("securityContext");
        long uid = security.path("runAsUser").asLong(0);
        long gid = security.path("runAsGroup").asLong(uid);
        List<String> capabilities = new ArrayList<>();
        for (JsonNode capability : security.path("capabilities").path("add")) {
            capabilities.add("+" + capability.asText().toLowerCase(java.util.Locale.ROOT));
        }
        List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", netns, "sh", "-c",
                script + "exec \"$@\"", "pod-" + name));
        command.addAll(List.of("setpriv", "--reuid", Long.toString(uid), "--regid", Long.toString(gid), "--clear-groups",
                "--bounding-set", "-all" + (capabilities.isEmpty() ? "" : "," + String.join(",", capabilities))));
        if (!security.path("allowPrivilegeEscalation").asBoolean(true)) {
            command.add("--no-new-privs");
        }
        command.addAll(List.of("env", "-i", "PATH=" + System.getenv("PATH"), "HOSTNAME=" + podName));
        for (JsonNode env : container.path("env")) {
            command.add(env.path("name").asText() + "=" + envValue(pod, env, podIp));
        }
        JsonNode entrypoint = container.path("command");
        if (entrypoint.isArray() && !entrypoint.isEmpty()) {
            entrypoint.forEach(part -> command.add(part.asText()));
        } else {
            String image = container.path("image").asText().replaceAll(":[^:/]*$", "");
            List<String> local = images.get(image);
            if (local == null) {
                throw new AssertionError("no local command for the image " + image + " of " + name);
            }
            command.addAll(local);
        }
        container.path("args").forEach(arg -> command.add(arg.asText()));
        Files.writeString(dir.resolve(name + ".command"), String.join(" ", command), StandardCharsets.UTF_8);
        return mesh.launchPeer(logName(podName, name).replace(".log", ""), command);
    }

    /** What the kubelet puts in an env var: its value, or the downward-API field it names. */
    private static String envValue(JsonNode pod, JsonNode env, String podIp) {
        if (env.has("value")) {
            return env.path("value").asText();
        }
        String field = env.path("valueFrom").path("fieldRef").path("fieldPath").asText();
        return switch (field) {
            case "metadata.name" -> pod.path("metadata").path("name").asText();
            case "metadata.namespace" -> pod.path("metadata").path("namespace").asText("default");
            case "spec.serviceAccountName" -> pod.path("spec").path("serviceAccountName").asText("default");
            case "status.podIP" -> podIp;
            default -> throw new AssertionError("the double does not fill the downward-API field " + field);
        };
    }

    /** Each volume as a directory: emptyDir empty (0777), the downward-API files, the projected token. */
    private static Map<String, Path> volumes(JsonNode pod, Path dir, String token) throws IOException {
        Map<String, Path> volumes = new LinkedHashMap<>();
        for (JsonNode volume : pod.path("spec").path("volumes")) {
            String name = volume.path("name").asText();
            Path path = Files.createDirectories(dir.resolve("volume-" + name));
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rwxrwxrwx"));
            if (volume.has("downwardAPI")) {
                for (JsonNode item : volume.path("downwardAPI").path("items")) {
                    String field = item.path("fieldRef").path("fieldPath").asText();
                    java.util.regex.Matcher annotation = java.util.regex.Pattern
                            .compile("metadata\\.annotations\\['(.+)'\\]").matcher(field);
                    if (!annotation.matches()) {
                        throw new AssertionError("the double does not project " + field);
                    }
                    world(Files.writeString(path.resolve(item.path("path").asText()),
                            pod.path("metadata").path("annotations").path(annotation.group(1)).asText()));
                }
            } else if (volume.has("projected")) {
                for (JsonNode source : volume.path("projected").path("sources")) {
                    if (source.has("serviceAccountToken")) {
                        world(Files.writeString(path.resolve(source.path("serviceAccountToken").path("path").asText()), token));
                    }
                }
            } else if (!volume.has("emptyDir")) {
                throw new AssertionError("the double does not provide the volume " + volume);
            }
            volumes.put(name, path);
        }
        return volumes;
    }

    private static void world(Path file) throws IOException {
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
    }

    /** Polls the container's startup probe (HTTP GET on the pod's address, from the node), within its bounds. */
    private void awaitStartupProbe(JsonNode container, String podIp, String pod, String name, Process process)
            throws Exception {
        JsonNode probe = container.path("startupProbe");
        awaitProbe(container, "startupProbe", Duration.ofSeconds(probe.path("periodSeconds").asInt(10)
                * (long) probe.path("failureThreshold").asInt(3)), podIp, pod, name, process);
    }

    /** Polls one of the container's HTTP probes from the node until it passes, at most {@code bound}. */
    private void awaitProbe(JsonNode container, String kind, Duration bound, String podIp, String pod, String name,
            Process process) throws Exception {
        JsonNode get = container.path(kind).path("httpGet");
        if (get.isMissingNode()) {
            return;
        }
        if (!get.path("port").isInt()) {
            throw new AssertionError("the double probes numbered ports only: " + name + " " + kind);
        }
        String url = "http://" + podIp + ":" + get.path("port").asInt() + get.path("path").asText("/");
        MeshHarness.await(bound, name + "'s " + kind + " " + url, () -> {
            if (!process.isAlive()) {
                throw new AssertionError(name + " of " + pod + " exited (" + process.exitValue() + ") before its " + kind
                        + " passed:\n" + mesh.logTail(logName(pod, name)));
            }
            return curlStatus(nodeNs, url) == 200;
        });
    }

    /** The status of a GET made from inside {@code netns} (0 when it could not connect). */
    static int curlStatus(String netns, String url, String... extra) {
        List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", netns, "curl", "-s", "-o", "/dev/null",
                "-w", "%{http_code}", "--max-time", "5"));
        command.addAll(List.of(extra));
        command.add(url);
        try {
            String out = PeerCommand.run(Duration.ofSeconds(10), command.toArray(String[]::new)).text().strip();
            return out.matches("\\d{3}") ? Integer.parseInt(out) : 0;
        } catch (IOException e) {
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        }
    }
}
