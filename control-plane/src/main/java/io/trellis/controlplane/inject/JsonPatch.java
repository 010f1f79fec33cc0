package io.trellis.controlplane.inject;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/**
 * An RFC 6902 JSON Patch made of {@code add} operations, the only kind an injection needs: the webhook sends it to
 * the API server, and {@code trellis inject} applies the very same operations to a manifest's pod template.
 */
public final class JsonPatch {
    /** One {@code add}: {@code path} is an RFC 6901 pointer; its last segment may be {@code -} (append). */
    public record Add(String path, JsonNode value) {
    }

    private final List<Add> operations;

    JsonPatch(List<Add> operations) {
        this.operations = List.copyOf(operations);
    }

    public List<Add> operations() {
        return operations;
    }

    public boolean isEmpty() {
        return operations.isEmpty();
    }

    /** The patch as the JSON array the API server expects. */
    public ArrayNode toJson(ObjectMapper mapper) {
        ArrayNode array = mapper.createArrayNode();
        for (Add add : operations) {
            array.addObject().put("op", "add").put("path", add.path()).set("value", add.value());
        }
        return array;
    }

    /** Applies the operations to {@code target} in order (it is changed in place). */
    public void applyTo(JsonNode target) {
        for (Add add : operations) {
            List<String> segments = segments(add.path());
            JsonNode parent = target;
            for (String segment : segments.subList(0, segments.size() - 1)) {
                parent = parent.isArray() ? parent.path(Integer.parseInt(segment)) : parent.path(segment);
                if (parent.isMissingNode()) {
                    throw new IllegalArgumentException(add.path() + ": the parent does not exist");
                }
            }
            String last = segments.get(segments.size() - 1);
            if (parent instanceof ObjectNode object) {
                object.set(last, add.value().deepCopy());
            } else if (parent instanceof ArrayNode array) {
                if (last.equals("-")) {
                    array.add(add.value().deepCopy());
                } else {
                    array.insert(Integer.parseInt(last), add.value().deepCopy());
                }
            } else {
                throw new IllegalArgumentException(add.path() + ": the parent is neither an object nor an array");
            }
        }
    }

    /** A pointer's segments with {@code ~1} and {@code ~0} decoded. */
    private static List<String> segments(String pointer) {
        if (!pointer.startsWith("/")) {
            throw new IllegalArgumentException(pointer + ": a JSON pointer starts with /");
        }
        List<String> segments = new ArrayList<>();
        for (String raw : pointer.substring(1).split("/", -1)) {
            segments.add(raw.replace("~1", "/").replace("~0", "~"));
        }
        return segments;
    }

    /** One pointer segment for {@code name} (an annotation key holds a {@code /}). */
    static String escape(String name) {
        return name.replace("~", "~0").replace("/", "~1");
    }
}
