package io.trellis.controlplane.inject;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionResponse;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionResponseBuilder;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReview;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReviewBuilder;
import java.io.IOException;
import java.util.Base64;

/**
 * Answers an {@code admission.k8s.io/v1} AdmissionReview for a pod with the injection's JSONPatch. Everything but a
 * pod's CREATE is allowed unchanged; the answer always allows (a mesh must not block a cluster's pods), and says in
 * its warnings what was left out and why. A review that is not one is refused with the reason.
 */
public final class AdmissionWebhook {
    private static final String API_VERSION = "admission.k8s.io/v1";

    private final PodInjector injector;
    private final ObjectMapper mapper;

    public AdmissionWebhook(PodInjector injector, ObjectMapper mapper) {
        this.injector = injector;
        this.mapper = mapper;
    }

    /** The answer to the review in {@code body} (JSON), as JSON. */
    public byte[] review(byte[] body, PodInjector.Scope scope, String trustDomain, String trustBundlePem)
            throws MalformedReviewException {
        JsonNode review;
        try {
            review = mapper.readTree(body);
        } catch (IOException e) {
            throw new MalformedReviewException("the body is not JSON (" + firstLine(e) + ")");
        }
        if (review == null || !review.isObject()) {
            throw new MalformedReviewException("the body is not a JSON object (expected an AdmissionReview)");
        }
        require(review, "apiVersion", API_VERSION);
        require(review, "kind", "AdmissionReview");
        JsonNode request = review.path("request");
        if (!request.isObject()) {
            throw new MalformedReviewException("request: missing (expected the AdmissionRequest to answer)");
        }
        String uid = request.path("uid").asText("");
        if (uid.isBlank()) {
            throw new MalformedReviewException("request.uid: missing (the answer must echo it)");
        }
        AdmissionResponseBuilder response = new AdmissionResponseBuilder().withUid(uid).withAllowed(true);
        boolean pod = request.path("kind").path("kind").asText("").equals("Pod")
                && request.path("kind").path("group").asText("").isEmpty();
        if (pod && request.path("operation").asText("").equals("CREATE") && !request.path("subResource").isTextual()) {
            Pod object = pod(request.path("object"));
            if (object.getMetadata() != null && object.getMetadata().getNamespace() == null) {
                object.getMetadata().setNamespace(request.path("namespace").asText(null));
            }
            PodInjector.Injection injection = injector.inject(object, scope, trustDomain, trustBundlePem);
            if (!injection.patch().isEmpty()) {
                byte[] patch = json(injection.patch().toJson(mapper));
                response.withPatchType("JSONPatch").withPatch(Base64.getEncoder().encodeToString(patch));
            }
            if (!injection.warnings().isEmpty()) {
                response.withWarnings(injection.warnings().stream().map(warning -> "trellis: " + warning).toList());
            }
        }
        AdmissionResponse answer = response.build();
        AdmissionReview reply = new AdmissionReviewBuilder().withApiVersion(API_VERSION).withKind("AdmissionReview")
                .withResponse(answer).build();
        return json(reply);
    }

    private byte[] json(Object value) {
        try {
            return mapper.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("an AdmissionReview did not serialize", e);
        }
    }

    private Pod pod(JsonNode object) throws MalformedReviewException {
        if (!object.isObject()) {
            throw new MalformedReviewException("request.object: missing (expected the pod being created)");
        }
        try {
            Pod pod = mapper.treeToValue(object, Pod.class);
            if (pod.getMetadata() == null) {
                throw new MalformedReviewException("request.object.metadata: missing");
            }
            return pod;
        } catch (JsonProcessingException | IllegalArgumentException e) {
            throw new MalformedReviewException("request.object: not a pod (" + firstLine(e) + ")");
        }
    }

    private static void require(JsonNode review, String field, String expected) throws MalformedReviewException {
        String value = review.path(field).asText("");
        if (!value.equals(expected)) {
            throw new MalformedReviewException(field + ": '" + value + "' (expected " + expected + ")");
        }
    }

    /** The first line of an exception's message (a parser's runs on with the input's excerpt). */
    static String firstLine(Exception e) {
        String message = String.valueOf(e.getMessage());
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }
}
