package io.trellis.controlplane.token;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.trellis.certs.Pem;
import io.trellis.certs.SpiffeId;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Authenticates a sidecar by its projected Kubernetes service-account token: the API server reviews it ({@code POST
 * /apis/authentication.k8s.io/v1/tokenreviews}, asking for the mesh's audience), and the identity is the service
 * account the review names ({@code system:serviceaccount:<ns>:<sa>}), never what the sidecar claims. The control plane
 * authenticates to the API server with its own service-account token, read for each review because the kubelet
 * renews it. Thread-safe.
 */
public final class ServiceAccountTokens {
    private static final String USER_PREFIX = "system:serviceaccount:";
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private final URI reviews;
    private final Path ownToken;
    private final String audience;
    private final Supplier<String> trustDomain;
    private final HttpClient http;
    private final ObjectMapper json = new ObjectMapper();

    /**
     * @param apiServer the API server's base URL
     * @param roots what its certificate must chain to
     */
    public ServiceAccountTokens(URI apiServer, List<X509Certificate> roots, Path ownToken, String audience,
            Supplier<String> trustDomain) throws GeneralSecurityException, IOException {
        this.reviews = apiServer.resolve("/apis/authentication.k8s.io/v1/tokenreviews");
        this.ownToken = ownToken;
        this.audience = audience;
        this.trustDomain = trustDomain;
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

    /** The reviewer the settings describe, or null when there is no API server (outside a cluster). */
    public static ServiceAccountTokens from(KubernetesSettings settings, java.util.Map<String, String> env,
            Supplier<String> trustDomain) throws GeneralSecurityException, IOException {
        URI apiServer = settings.effectiveApiServer(env).orElse(null);
        if (apiServer == null) {
            return null;
        }
        List<X509Certificate> roots;
        try {
            roots = Pem.decodeCertificates(Files.readString(settings.caFile()));
        } catch (java.security.cert.CertificateException e) {
            throw new IOException("trellis.kubernetes.ca-file " + settings.caFile() + ": not PEM certificates", e);
        }
        return new ServiceAccountTokens(apiServer, roots, settings.tokenFile(), settings.audience(), trustDomain);
    }

    /**
     * True when {@code token} looks like one this class reviews: a JWT, three base64url parts of which the first is
     * a JSON object ({@code eyJ} is how {@code {"} encodes). A join token never does.
     */
    public static boolean looksLikeOne(String token) {
        return token.startsWith("eyJ") && token.matches("[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*");
    }

    /**
     * The identity of the service account {@code token} belongs to.
     *
     * @throws TokenRejectedException when the API server does not authenticate it for the mesh's audience
     * @throws TokenReviewUnavailableException when the review could not be made
     */
    public SpiffeId authenticate(String token) throws TokenRejectedException, TokenReviewUnavailableException {
        ObjectNode review = json.createObjectNode().put("apiVersion", "authentication.k8s.io/v1").put("kind", "TokenReview");
        review.putObject("spec").put("token", token).putArray("audiences").add(audience);
        HttpResponse<String> response;
        try {
            HttpRequest request = HttpRequest.newBuilder(reviews).timeout(TIMEOUT)
                    .header("Authorization", "Bearer " + Files.readString(ownToken).strip())
                    .header("Content-Type", "application/json").header("Accept", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(json.writeValueAsString(review))).build();
            response = http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new TokenReviewUnavailableException("the token review at " + reviews + " failed: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TokenReviewUnavailableException("the token review was interrupted", e);
        }
        if (response.statusCode() != 200 && response.statusCode() != 201) {
            throw new TokenReviewUnavailableException("the API server answered the token review with "
                    + response.statusCode() + (response.statusCode() == 401 || response.statusCode() == 403
                            ? " (the control plane's own service account may not create tokenreviews)" : ""), null);
        }
        JsonNode status;
        try {
            status = json.readTree(response.body()).path("status");
        } catch (IOException e) {
            throw new TokenReviewUnavailableException("the API server's token review answer is not JSON", e);
        }
        if (!status.path("authenticated").asBoolean(false)) {
            String why = status.path("error").asText("");
            throw new TokenRejectedException("the Kubernetes API server did not authenticate the service-account token"
                    + (why.isEmpty() ? "" : " (" + why + ")"));
        }
        boolean forUs = false;
        for (JsonNode granted : status.path("audiences")) {
            forUs |= granted.asText().equals(audience);
        }
        if (!forUs) {
            throw new TokenRejectedException("the service-account token is not for the audience " + audience);
        }
        String username = status.path("user").path("username").asText("");
        String[] parts = username.startsWith(USER_PREFIX) ? username.substring(USER_PREFIX.length()).split(":") : new String[0];
        if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty()) {
            throw new TokenRejectedException("the token belongs to " + (username.isEmpty() ? "nobody" : username)
                    + ", not a service account");
        }
        return SpiffeId.forWorkload(trustDomain.get(), parts[0], parts[1]);
    }
}
