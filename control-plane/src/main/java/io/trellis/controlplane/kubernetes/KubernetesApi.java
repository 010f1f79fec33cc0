package io.trellis.controlplane.kubernetes;

import io.trellis.certs.Pem;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * The control plane's client of the Kubernetes API server: HTTPS checked against the cluster's CA, authenticated
 * with the control plane's own service-account token (read for each request: the kubelet renews it). Thread-safe.
 */
public final class KubernetesApi {
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private final URI base;
    private final Path ownToken;
    private final HttpClient http;

    /**
     * @param base the API server's URL
     * @param roots what its certificate must chain to
     * @param ownToken the control plane's service-account token
     */
    public KubernetesApi(URI base, List<X509Certificate> roots, Path ownToken) throws GeneralSecurityException, IOException {
        this.base = base;
        this.ownToken = ownToken;
        KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
        trusted.load(null, null);
        for (int i = 0; i < roots.size(); i++) {
            trusted.setCertificateEntry("root-" + i, roots.get(i));
        }
        TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init(trusted);
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(null, trust.getTrustManagers(), null);
        this.http = HttpClient.newBuilder().sslContext(tls).connectTimeout(TIMEOUT).build();
    }

    /** The client the settings describe, or null when there is no API server (outside a cluster). */
    public static KubernetesApi from(KubernetesSettings settings, Map<String, String> env)
            throws GeneralSecurityException, IOException {
        URI apiServer = settings.effectiveApiServer(env).orElse(null);
        if (apiServer == null) {
            return null;
        }
        try {
            return new KubernetesApi(apiServer, Pem.decodeCertificates(Files.readString(settings.caFile())), settings.tokenFile());
        } catch (java.security.cert.CertificateException e) {
            throw new IOException("trellis.kubernetes.ca-file " + settings.caFile() + ": not PEM certificates", e);
        }
    }

    /** The API server's URL. */
    public URI base() {
        return base;
    }

    /** POSTs {@code json} to {@code path}. */
    public HttpResponse<String> post(String path, String json) throws IOException, InterruptedException {
        return http.send(request(path, TIMEOUT).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** GETs {@code path}. */
    public HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(request(path, TIMEOUT).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    /**
     * GETs a watch ({@code path} with {@code watch=1}) and hands each event line to {@code events} until the server
     * ends the stream (it does at its {@code timeoutSeconds}). Returns the status: 200 for a stream that ended.
     */
    public int watch(String path, Duration timeout, Consumer<String> events) throws IOException, InterruptedException {
        HttpResponse<InputStream> response = http.send(request(path, timeout.plus(TIMEOUT)).GET().build(),
                HttpResponse.BodyHandlers.ofInputStream());
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            if (response.statusCode() != 200) {
                return response.statusCode();
            }
            for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                if (!line.isBlank()) {
                    events.accept(line);
                }
            }
        }
        return 200;
    }

    private HttpRequest.Builder request(String path, Duration timeout) throws IOException {
        return HttpRequest.newBuilder(base.resolve(path)).timeout(timeout)
                .header("Authorization", "Bearer " + Files.readString(ownToken).strip())
                .header("Accept", "application/json");
    }
}
