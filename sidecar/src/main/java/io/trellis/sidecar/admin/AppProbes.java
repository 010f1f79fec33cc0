package io.trellis.sidecar.admin;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * The app's HTTP probes, asked on the kubelet's behalf: an injected pod's redirect hands every connection to the
 * pod's address to the mTLS port, where the kubelet (which has no mesh certificate) cannot probe the app, so the
 * injector points the app's probes at the admin port ({@code /app-health/CONTAINER/KIND}) and the sidecar makes the
 * probe's GET to the app on 127.0.0.1, answering with its status (as Istio's probe rewrite does). Redirects are not
 * followed, as the kubelet counts a 3xx as success itself.
 */
final class AppProbes {
    /** One probe: the app's port and path. */
    private record Probe(int port, String path) {
    }

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    static final String PREFIX = "/app-health/";

    private final Map<String, Probe> probes;
    /** Made only when there are probes: a JDK HttpClient starts a selector thread of its own. */
    private final HttpClient http;

    /** @param declared {@code CONTAINER/KIND=PORT:PATH} each (validated by the sidecar's config) */
    AppProbes(List<String> declared) {
        Map<String, Probe> byName = new LinkedHashMap<>();
        for (String probe : declared) {
            int eq = probe.indexOf('=');
            int colon = probe.indexOf(':', eq);
            byName.put(probe.substring(0, eq), new Probe(Integer.parseInt(probe.substring(eq + 1, colon)), probe.substring(colon + 1)));
        }
        this.probes = Map.copyOf(byName);
        this.http = probes.isEmpty() ? null : HttpClient.newBuilder().connectTimeout(TIMEOUT)
                .followRedirects(HttpClient.Redirect.NEVER).version(HttpClient.Version.HTTP_1_1).build();
    }

    /**
     * The app's answer to the probe at {@code path} ({@code /app-health/CONTAINER/KIND}): its status, or 503 with why
     * when it could not be asked; empty when no such probe is declared.
     */
    Optional<CompletionStage<Integer>> ask(String path) {
        Probe probe = probes.get(path.substring(PREFIX.length()));
        if (probe == null) {
            return Optional.empty();
        }
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + probe.port() + probe.path()))
                .timeout(TIMEOUT).header("User-Agent", "kube-probe (via trellis)").GET().build();
        return Optional.of(http.sendAsync(request, HttpResponse.BodyHandlers.discarding())
                .thenApply(HttpResponse::statusCode)
                .exceptionally(failure -> 503));
    }
}
