package io.trellis.controlplane.registry;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.trellis.certs.OwnerOnlyFiles;
import io.trellis.certs.SpiffeId;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * The registry's membership as last seen, in {@code <data-dir>/registry.json}, so a restarted control plane
 * can {@linkplain ProxyRegistry#recover recover} it. Written whole (atomic rename) on every membership change;
 * an unreadable file recovers nothing rather than failing the start.
 */
public final class RegistryFile {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The stored form of a {@link ProxyInstance}; {@code tunnelPort} is absent in files of earlier versions. */
    private record Entry(String nodeId, String service, String namespace, String identity, String address, int inboundPort,
            Integer tunnelPort, Map<String, String> labels, String proxyVersion, long connectedSinceEpochMillis) {
    }

    private final Path file;

    /** The registry file {@code file}. */
    public RegistryFile(Path file) {
        this.file = file;
    }

    /** Replaces the file with {@code instances}. */
    public void save(List<ProxyInstance> instances) throws IOException {
        List<Entry> entries = instances.stream().map(i -> new Entry(i.nodeId(), i.service(), i.namespace(),
                i.identity().toString(), i.address(), i.inboundPort(), i.tunnelPort(), i.labels(), i.proxyVersion(),
                i.connectedSince().toEpochMilli())).toList();
        OwnerOnlyFiles.write(file, JSON.writeValueAsBytes(entries));
    }

    /** The instances saved by the previous run; empty when there is no readable file. */
    public List<ProxyInstance> load() throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return List.of();
        }
        try {
            List<Entry> entries = JSON.readValue(bytes, new TypeReference<List<Entry>>() { });
            return entries.stream().map(e -> new ProxyInstance(e.nodeId(), e.service(), e.namespace(),
                    SpiffeId.parse(e.identity()), e.address(), e.inboundPort(),
                    e.tunnelPort() == null ? 0 : e.tunnelPort(), e.labels(), e.proxyVersion(),
                    Instant.ofEpochMilli(e.connectedSinceEpochMillis()))).toList();
        } catch (IOException | IllegalArgumentException e) {
            return List.of();
        }
    }
}
