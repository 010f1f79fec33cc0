package io.trellis.controlplane.resource;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonSetter;
import com.fasterxml.jackson.annotation.Nulls;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Turns JSON or YAML documents into validated, defaulted {@link Resource}s and back. Decoding is
 * strict: unknown fields, wrong types and invalid values are all reported with the field path, and a
 * document with any error is rejected whole. Thread-safe.
 */
public final class ResourceCodec {
    /** Wire formats. */
    public enum Format { JSON, YAML }

    private static final Set<String> TOP_LEVEL = Set.of("apiVersion", "kind", "metadata", "spec");
    private static final Set<String> METADATA_FIELDS =
            Set.of("name", "namespace", "labels", "resourceVersion", "creationTimestamp");

    private final ObjectMapper json;
    private final ObjectMapper yaml;

    /** Creates the codec with its own strictly configured mappers. */
    public ResourceCodec() {
        this.json = configure(JsonMapper.builder().build());
        this.yaml = configure(YAMLMapper.builder(YAMLFactory.builder()
                .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
                .enable(YAMLGenerator.Feature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS).build()).build());
    }

    private static ObjectMapper configure(ObjectMapper mapper) {
        SimpleModule text = new SimpleModule("trellis-text");
        text.addSerializer(Duration.class, new JsonSerializer<>() {
            @Override
            public void serialize(Duration value, JsonGenerator gen, SerializerProvider p) throws IOException {
                gen.writeString(DurationText.format(value));
            }
        });
        text.addDeserializer(Duration.class, new JsonDeserializer<>() {
            @Override
            public Duration deserialize(JsonParser p, DeserializationContext ctx) throws IOException {
                if (!p.currentToken().isScalarValue() || p.currentToken().isNumeric()) {
                    throw JsonMappingException.from(p, "expected a duration like 250ms, 15s, 5m, 1h30m");
                }
                try {
                    return DurationText.parse(p.getText());
                } catch (IllegalArgumentException e) {
                    throw JsonMappingException.from(p, e.getMessage());
                }
            }
        });
        text.addSerializer(ByteSize.class, new JsonSerializer<>() {
            @Override
            public void serialize(ByteSize value, JsonGenerator gen, SerializerProvider p) throws IOException {
                gen.writeString(value.toString());
            }
        });
        text.addDeserializer(ByteSize.class, new JsonDeserializer<>() {
            @Override
            public ByteSize deserialize(JsonParser p, DeserializationContext ctx) throws IOException {
                try {
                    return ByteSize.parse(p.getText());
                } catch (IllegalArgumentException | ArithmeticException e) {
                    throw JsonMappingException.from(p, e.getMessage());
                }
            }
        });
        // Registered after JavaTimeModule so that our Duration text format wins over ISO-8601.
        return mapper.registerModule(new JavaTimeModule())
                .registerModule(text)
                .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true)
                .configure(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES, true)
                .configure(DeserializationFeature.ACCEPT_FLOAT_AS_INT, false)
                .configure(DeserializationFeature.FAIL_ON_TRAILING_TOKENS, true)
                // A key given twice ("action": "DENY", "action": "ALLOW") is refused, not won by the last one.
                .configure(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY, true)
                .configure(JsonParser.Feature.STRICT_DUPLICATE_DETECTION, true)
                .configure(MapperFeature.ALLOW_COERCION_OF_SCALARS, false)
                // A null inside a list or map ("methods: [~]") is refused with its path, never bound as a hole.
                .setDefaultSetterInfo(JsonSetter.Value.forContentNulls(Nulls.FAIL))
                .configure(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS, false)
                .setSerializationInclusion(JsonInclude.Include.NON_NULL);
    }

    /**
     * Decodes one document.
     *
     * @throws InvalidResourceException listing every problem
     */
    public Resource decode(byte[] body, Format format) {
        return admit(readTree(body, format));
    }

    /**
     * Decodes every document of a multi-document YAML stream, or a JSON object or array. All documents
     * are checked before any is returned; errors carry a {@code documents[i].} prefix.
     */
    public List<Resource> decodeAll(byte[] body, Format format) {
        List<JsonNode> documents = new ArrayList<>();
        try {
            if (format == Format.YAML) {
                try (var parser = yaml.getFactory().createParser(body)) {
                    Iterator<JsonNode> it = yaml.readValues(parser, JsonNode.class);
                    while (it.hasNext()) {
                        JsonNode node = it.next();
                        if (node != null && !node.isNull() && !node.isMissingNode()) {
                            documents.add(node);
                        }
                    }
                }
            } else {
                JsonNode root = json.readTree(body);
                if (root != null && root.isArray()) {
                    root.forEach(documents::add);
                } else if (root != null) {
                    documents.add(root);
                }
            }
        } catch (IOException | RuntimeException e) {
            throw InvalidResourceException.of("body", "not valid " + format + ": " + firstLine(e.getMessage()));
        }
        if (documents.isEmpty()) {
            throw InvalidResourceException.of("body", "no documents (expected at least one resource)");
        }
        List<Resource> resources = new ArrayList<>();
        List<FieldError> errors = new ArrayList<>();
        for (int i = 0; i < documents.size(); i++) {
            try {
                resources.add(admit(documents.get(i)));
            } catch (InvalidResourceException e) {
                errors.addAll(e.prefixed("documents[" + i + "].").errors());
            }
        }
        if (!errors.isEmpty()) {
            throw new InvalidResourceException(errors);
        }
        return resources;
    }

    private JsonNode readTree(byte[] body, Format format) {
        try {
            JsonNode node = (format == Format.YAML ? yaml : json).readTree(body);
            if (node == null || node.isMissingNode() || node.isNull()) {
                throw InvalidResourceException.of("body", "empty (expected a resource document)");
            }
            return node;
        } catch (IOException e) {
            throw InvalidResourceException.of("body", "not valid " + format + ": " + firstLine(e.getMessage()));
        }
    }

    /** Validates the document's shape, metadata and spec, and fills in defaults. */
    private Resource admit(JsonNode document) {
        if (!document.isObject()) {
            throw InvalidResourceException.of("body", "a " + document.getNodeType() + " (expected an object)");
        }
        Validation v = new Validation();
        document.fieldNames().forEachRemaining(field ->
                v.check(TOP_LEVEL.contains(field), field, "unknown field", "one of " + String.join(", ", TOP_LEVEL)));
        JsonNode apiVersion = document.get("apiVersion");
        if (apiVersion != null) {
            v.check(apiVersion.isTextual() && apiVersion.asText().equals(Resource.API_VERSION), "apiVersion",
                    apiVersion.asText(), Resource.API_VERSION);
        }
        JsonNode kindNode = document.get("kind");
        Kind kind = kindNode == null || !kindNode.isTextual() ? null : Kind.byName(kindNode.asText()).orElse(null);
        if (kind == null) {
            v.error("kind", (kindNode == null ? "missing" : "'" + kindNode.asText() + "'")
                    + " (expected one of " + Kind.names() + ")");
            v.throwIfInvalid();
        }
        Metadata metadata = readMetadata(document.get("metadata"), kind, v);
        Spec spec = null;
        JsonNode specNode = document.get("spec");
        if (specNode == null || !specNode.isObject()) {
            v.error("spec", specNode == null ? "missing (expected an object)" : "not an object");
        } else {
            try {
                spec = json.treeToValue(specNode, kind.specType()).withDefaults();
                spec.validate(v);
            } catch (JsonProcessingException e) {
                v.error(path("spec", e), problem(e));
            } catch (IllegalArgumentException | ArithmeticException e) {
                v.error("spec", firstLine(e.getMessage()));
            }
        }
        v.throwIfInvalid();
        return new Resource(kind, metadata, spec);
    }

    private Metadata readMetadata(JsonNode node, Kind kind, Validation v) {
        if (node == null || !node.isObject()) {
            v.error("metadata", node == null ? "missing (expected an object with a name)" : "not an object");
            return null;
        }
        node.fieldNames().forEachRemaining(field -> v.check(METADATA_FIELDS.contains(field), "metadata." + field,
                "unknown field", "one of " + String.join(", ", METADATA_FIELDS)));
        Metadata metadata;
        try {
            ObjectNode copy = ((ObjectNode) node).deepCopy();
            copy.remove("creationTimestamp"); // set by the store, ignored on input
            metadata = json.treeToValue(copy, Metadata.class);
        } catch (JsonProcessingException e) {
            v.error(path("metadata", e), problem(e));
            return null;
        }
        if (kind.clusterScoped()) {
            v.check("default".equals(metadata.name()), "metadata.name", metadata.name(), "'default' for " + kind.kindName());
            v.check(metadata.namespace() == null, "metadata.namespace", metadata.namespace(),
                    "no namespace: " + kind.kindName() + " is cluster-scoped");
        } else {
            v.dnsLabel(metadata.name(), "metadata.name");
            if (metadata.namespace() == null) {
                metadata = new Metadata(metadata.name(), "default", metadata.labels(), metadata.resourceVersion(), null);
            }
            v.dnsLabel(metadata.namespace(), "metadata.namespace");
        }
        metadata.labels().forEach((key, value) -> Labels.validate(v, "metadata.labels", key, value));
        if (metadata.resourceVersion() != null) {
            v.check(metadata.resourceVersion().matches("\\d{1,18}"), "metadata.resourceVersion",
                    metadata.resourceVersion(), "a decimal revision as returned by the API");
        }
        return metadata;
    }

    private static String path(String root, JsonProcessingException e) {
        StringBuilder out = new StringBuilder(root);
        if (!(e instanceof JsonMappingException mapping)) {
            return root;
        }
        for (JsonMappingException.Reference ref : mapping.getPath()) {
            if (ref.getFieldName() != null) {
                out.append('.').append(ref.getFieldName());
            } else if (ref.getIndex() >= 0) {
                out.append('[').append(ref.getIndex()).append(']');
            }
        }
        return out.toString();
    }

    private static String problem(JsonProcessingException e) {
        if (e instanceof UnrecognizedPropertyException u) {
            String known = u.getKnownPropertyIds() == null ? "" : u.getKnownPropertyIds().stream()
                    .map(Object::toString).sorted().collect(Collectors.joining(", "));
            return "unknown field (expected one of: " + known + ")";
        }
        if (e instanceof InvalidFormatException f) {
            Class<?> target = f.getTargetType();
            if (target != null && target.isEnum()) {
                return "'" + f.getValue() + "' (expected one of " + List.of(target.getEnumConstants()) + ")";
            }
            return "'" + f.getValue() + "' (expected " + typeName(target) + ")";
        }
        if (e instanceof MismatchedInputException m && m.getTargetType() != null
                && !Duration.class.equals(m.getTargetType()) && !ByteSize.class.equals(m.getTargetType())) {
            return "wrong type (expected " + typeName(m.getTargetType()) + ")";
        }
        return firstLine(e.getOriginalMessage());
    }

    private static String typeName(Class<?> type) {
        if (type == null) {
            return "another type";
        }
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class) {
            return "an integer";
        }
        if (type == Double.class || type == double.class) {
            return "a number";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "true or false";
        }
        if (type == String.class) {
            return "a string";
        }
        if (List.class.isAssignableFrom(type)) {
            return "a list";
        }
        if (java.util.Map.class.isAssignableFrom(type)) {
            return "a map";
        }
        return "an object";
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "malformed";
        }
        int newline = message.indexOf('\n');
        String line = newline < 0 ? message : message.substring(0, newline);
        int at = line.indexOf(" at [Source");
        return at < 0 ? line : line.substring(0, at);
    }

    /** The resource as a JSON or YAML document. */
    public byte[] encode(Resource resource, Format format) {
        return write(toTree(resource), format);
    }

    /** Resources as a list document {@code {"items": [...]}}. */
    public byte[] encodeList(List<Resource> resources, Format format) {
        ObjectNode root = json.createObjectNode();
        var items = root.putArray("items");
        resources.forEach(r -> items.add(toTree(r)));
        return write(root, format);
    }

    /** Any value (views, errors) in the given format. */
    public byte[] write(Object value, Format format) {
        try {
            return (format == Format.YAML ? yaml : json).writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The resource as a tree: {@code apiVersion, kind, metadata, spec}. */
    public ObjectNode toTree(Resource resource) {
        ObjectNode node = json.createObjectNode();
        node.put("apiVersion", Resource.API_VERSION);
        node.put("kind", resource.kind().kindName());
        node.set("metadata", json.valueToTree(resource.metadata()));
        node.set("spec", json.valueToTree(resource.spec()));
        return node;
    }

    /** Reads back a resource this codec wrote (the store's own log); validation is re-run. */
    public Resource fromTree(JsonNode node) {
        Resource admitted = admit(stripCreation(node));
        Metadata original = admitted.metadata();
        JsonNode created = node.path("metadata").get("creationTimestamp");
        java.time.Instant creation = created == null ? null : java.time.Instant.parse(created.asText());
        return new Resource(admitted.kind(), new Metadata(original.name(), original.namespace(), original.labels(),
                original.resourceVersion(), creation), admitted.spec());
    }

    private static JsonNode stripCreation(JsonNode node) {
        ObjectNode copy = node.deepCopy();
        if (copy.get("metadata") instanceof ObjectNode metadata) {
            metadata.remove("creationTimestamp");
        }
        return copy;
    }

    /** The JSON mapper, for the store's log records. */
    public ObjectMapper json() {
        return json;
    }
}
