package io.trellis.controlplane.token;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.trellis.certs.SpiffeId;
import io.trellis.controlplane.kubernetes.KubernetesApi;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.util.function.Supplier;

/**
 * Authenticates a sidecar by its projected Kubernetes service-account token: the API server reviews it ({@code POST
 * /apis/authentication.k8s.io/v1/tokenreviews}, asking for the mesh's audience), and the identity is the service
 * account the review names ({@code system:serviceaccount:<ns>:<sa>}), never what the sidecar claims. The control plane
 * authenticates to the API server with its own service-account token, read for each review because the kubelet
 * renews it. Thread-safe.
 */
public final class ServiceAccountTokens {
    private static final String USER_PREFIX = "system:serviceaccount:";
    private static final String REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews";

    private final KubernetesApi api;
    private final String audience;
    private final Supplier<String> trustDomain;
    private final ObjectMapper json = new ObjectMapper();

    /**
     * @param api the API server, as the control plane's service account
     * @param audience the audience sidecars' tokens must be for
     */
    public ServiceAccountTokens(KubernetesApi api, String audience, Supplier<String> trustDomain) {
        this.api = api;
        this.audience = audience;
        this.trustDomain = trustDomain;
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
            response = api.post(REVIEWS, json.writeValueAsString(review));
        } catch (IOException e) {
            throw new TokenReviewUnavailableException("the token review at " + api.base() + " failed: " + e.getMessage(), e);
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
