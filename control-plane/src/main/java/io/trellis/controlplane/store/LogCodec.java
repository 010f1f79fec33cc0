package io.trellis.controlplane.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.trellis.controlplane.resource.Kind;
import io.trellis.controlplane.resource.Resource;
import io.trellis.controlplane.resource.ResourceCodec;
import io.trellis.controlplane.resource.ResourceKey;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** JSON encoding of log entries and compacted states. Resources go through the {@link ResourceCodec}. */
public final class LogCodec {
    private final ResourceCodec resources;
    private final ObjectMapper json;

    /** Creates the codec. */
    public LogCodec(ResourceCodec resources) {
        this.resources = resources;
        this.json = resources.json();
    }

    /** Encodes one entry. */
    public byte[] encode(LogEntry entry) {
        ObjectNode node = json.createObjectNode();
        node.put("index", entry.index());
        node.put("time", entry.time().toString());
        node.set("change", encodeChange(entry.change()));
        return bytes(node);
    }

    /** Decodes one entry. @throws IOException when the bytes are not an entry this codec wrote */
    public LogEntry decodeEntry(byte[] bytes) throws IOException {
        JsonNode node = json.readTree(bytes);
        return new LogEntry(node.get("index").asLong(), Instant.parse(node.get("time").asText()),
                decodeChange(node.get("change")));
    }

    private ObjectNode encodeChange(Change change) {
        ObjectNode node = json.createObjectNode();
        if (change instanceof Change.PutResources put) {
            node.put("type", "put");
            ArrayNode items = node.putArray("resources");
            put.resources().forEach(r -> items.add(resources.toTree(r)));
        } else if (change instanceof Change.DeleteResource delete) {
            node.put("type", "delete");
            node.put("kind", delete.key().kind().kindName());
            node.put("namespace", delete.key().namespace());
            node.put("name", delete.key().name());
            if (delete.expectedRevision() != null) {
                node.put("expectedRevision", delete.expectedRevision());
            }
        } else if (change instanceof Change.MintToken mint) {
            node.put("type", "mint-token");
            node.set("token", json.valueToTree(mint.token()));
        } else if (change instanceof Change.UseToken use) {
            node.put("type", "use-token");
            node.put("id", use.id());
        } else if (change instanceof Change.MintViewerToken mint) {
            node.put("type", "mint-viewer-token");
            node.set("token", json.valueToTree(mint.token()));
        } else if (change instanceof Change.RevokeViewerToken revoke) {
            node.put("type", "revoke-viewer-token");
            node.put("id", revoke.id());
        } else if (change instanceof Change.RecordCertificate record) {
            node.put("type", "certificate");
            node.set("certificate", json.valueToTree(record.certificate()));
        } else {
            node.put("type", "ca");
            node.set("ca", json.valueToTree(((Change.SetCa) change).ca()));
        }
        return node;
    }

    private Change decodeChange(JsonNode node) throws IOException {
        String type = node.get("type").asText();
        switch (type) {
            case "put": {
                List<Resource> list = new ArrayList<>();
                for (JsonNode item : node.get("resources")) {
                    list.add(resources.fromTree(item));
                }
                return new Change.PutResources(list);
            }
            case "delete": {
                Kind kind = Kind.byName(node.get("kind").asText())
                        .orElseThrow(() -> new IOException("unknown kind in log: " + node.get("kind")));
                JsonNode expected = node.get("expectedRevision");
                return new Change.DeleteResource(new ResourceKey(kind, node.get("namespace").asText(),
                        node.get("name").asText()), expected == null ? null : expected.asLong());
            }
            case "mint-token":
                return new Change.MintToken(json.treeToValue(node.get("token"), JoinToken.class));
            case "use-token":
                return new Change.UseToken(node.get("id").asText());
            case "mint-viewer-token":
                return new Change.MintViewerToken(json.treeToValue(node.get("token"), ViewerToken.class));
            case "revoke-viewer-token":
                return new Change.RevokeViewerToken(node.get("id").asText());
            case "certificate":
                return new Change.RecordCertificate(json.treeToValue(node.get("certificate"), CertificateRecord.class));
            case "ca":
                return new Change.SetCa(json.treeToValue(node.get("ca"), CaState.class));
            default:
                throw new IOException("unknown change type in log: " + type);
        }
    }

    /** Encodes a whole state (compaction snapshot). */
    public byte[] encodeState(MeshState state) {
        ObjectNode node = json.createObjectNode();
        node.put("revision", state.revision());
        node.put("policyRevision", state.policyRevision());
        ArrayNode items = node.putArray("resources");
        state.resources().values().forEach(r -> items.add(resources.toTree(r)));
        node.set("tokens", json.valueToTree(List.copyOf(state.tokens().values())));
        node.set("viewerTokens", json.valueToTree(List.copyOf(state.viewerTokens().values())));
        node.set("certificates", json.valueToTree(List.copyOf(state.certificates().values())));
        if (state.ca() != null) {
            node.set("ca", json.valueToTree(state.ca()));
        }
        return bytes(node);
    }

    /** Decodes a state written by {@link #encodeState}. */
    public MeshState decodeState(byte[] bytes) throws IOException {
        JsonNode node = json.readTree(bytes);
        List<Resource> list = new ArrayList<>();
        for (JsonNode item : node.get("resources")) {
            list.add(resources.fromTree(item));
        }
        List<JoinToken> tokens = new ArrayList<>();
        for (JsonNode item : node.get("tokens")) {
            tokens.add(json.treeToValue(item, JoinToken.class));
        }
        List<ViewerToken> viewerTokens = new ArrayList<>();
        // Snapshots written before viewer tokens existed have none.
        for (JsonNode item : node.path("viewerTokens")) {
            viewerTokens.add(json.treeToValue(item, ViewerToken.class));
        }
        List<CertificateRecord> certificates = new ArrayList<>();
        for (JsonNode item : node.get("certificates")) {
            certificates.add(json.treeToValue(item, CertificateRecord.class));
        }
        CaState ca = node.has("ca") ? json.treeToValue(node.get("ca"), CaState.class) : null;
        return MeshState.restore(node.get("revision").asLong(), node.get("policyRevision").asLong(), list, tokens, viewerTokens, certificates, ca);
    }

    private byte[] bytes(JsonNode node) {
        try {
            return json.writeValueAsBytes(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode a log record", e);
        }
    }
}
