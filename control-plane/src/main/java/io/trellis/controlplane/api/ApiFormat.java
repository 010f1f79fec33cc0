package io.trellis.controlplane.api;

import io.micronaut.http.HttpRequest;
import io.micronaut.http.MediaType;
import io.micronaut.http.MutableHttpResponse;
import io.trellis.controlplane.resource.ResourceCodec.Format;
import java.util.Set;

/** Picks JSON or YAML for request and response bodies from Content-Type and Accept. */
final class ApiFormat {
    static final String YAML = "application/yaml";
    private static final Set<String> YAML_TYPES = Set.of(YAML, "application/x-yaml", "text/yaml", "text/x-yaml");

    private ApiFormat() {
    }

    /** The format of the request body (JSON unless a YAML content type is declared). */
    static Format ofBody(HttpRequest<?> request) {
        return request.getContentType().map(t -> YAML_TYPES.contains(t.getName()) ? Format.YAML : Format.JSON)
                .orElse(Format.JSON);
    }

    /** The response format: YAML when the client asks for it, JSON otherwise. */
    static Format ofResponse(HttpRequest<?> request) {
        return request.accept().stream().anyMatch(t -> YAML_TYPES.contains(t.getName())) ? Format.YAML : Format.JSON;
    }

    /**
     * True when the client accepts plain text only ({@code Accept: text/plain}): a script that wants just a minted
     * token's secret, with no JSON tool at hand.
     */
    static boolean plainTextOnly(HttpRequest<?> request) {
        return !request.accept().isEmpty() && request.accept().stream().allMatch(t -> t.getName().equals(MediaType.TEXT_PLAIN));
    }

    /** {@code line} and a newline as the plain-text body of {@code response}. */
    static MutableHttpResponse<byte[]> text(MutableHttpResponse<?> response, String line) {
        @SuppressWarnings("unchecked")
        MutableHttpResponse<byte[]> typed = (MutableHttpResponse<byte[]>) response;
        return typed.body((line + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8)).contentType(MediaType.TEXT_PLAIN_TYPE);
    }

    /** Sets body and content type on {@code response}. */
    static <T> MutableHttpResponse<byte[]> body(MutableHttpResponse<T> response, byte[] body, Format format) {
        @SuppressWarnings("unchecked")
        MutableHttpResponse<byte[]> typed = (MutableHttpResponse<byte[]>) response;
        return typed.body(body).contentType(format == Format.YAML ? MediaType.of(YAML) : MediaType.APPLICATION_JSON_TYPE);
    }
}
