package io.trellis.controlplane.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.trellis.controlplane.resource.DurationText;
import io.trellis.controlplane.resource.InvalidResourceException;
import io.trellis.controlplane.resource.ResourceCodec;
import io.trellis.controlplane.resource.Validation;
import java.io.IOException;
import java.time.Duration;
import java.util.Set;

/**
 * The body of a request that mints a token: a JSON object of known fields, one of them a {@code ttl}. Problems go
 * into the caller's {@link Validation}, each with its field. Stateless.
 */
final class TokenRequest {
    private TokenRequest() {
    }

    /**
     * {@code body} as a JSON object whose fields are all in {@code fields}.
     *
     * @throws InvalidResourceException when it is not JSON, or not an object
     */
    static JsonNode object(ResourceCodec codec, byte[] body, Set<String> fields, Validation v) {
        JsonNode node;
        try {
            node = codec.json().readTree(body);
        } catch (IOException e) {
            throw InvalidResourceException.of("body", "not valid JSON");
        }
        if (node == null || !node.isObject()) {
            v.error("body", "not a JSON object (expected " + String.join(", ", fields) + ")");
            v.throwIfInvalid();
        }
        node.fieldNames().forEachRemaining(f -> v.check(fields.contains(f), f, "unknown field", "one of " + fields));
        return node;
    }

    /** The {@code ttl} field: {@code fallback} when absent, else more than 0 and at most {@code max} ({@code maxText}). */
    static Duration ttl(JsonNode node, Duration fallback, Duration max, String maxText, Validation v) {
        if (!node.has("ttl")) {
            return fallback;
        }
        String text = node.get("ttl").asText();
        try {
            Duration ttl = DurationText.parse(text);
            v.check(!ttl.isZero() && ttl.compareTo(max) <= 0, "ttl", text, "> 0s and <= " + maxText);
            return ttl;
        } catch (IllegalArgumentException e) {
            v.error("ttl", e.getMessage());
            return fallback;
        }
    }
}
