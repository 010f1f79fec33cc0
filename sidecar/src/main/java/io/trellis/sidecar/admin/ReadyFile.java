package io.trellis.sidecar.admin;

import io.trellis.certs.OwnerOnlyFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code --ready-file}: written (owner-only, atomically) when the sidecar first becomes ready, with its ports,
 * and removed when it shuts down; a stale one from an earlier run is removed at start. Its presence tells a script
 * that this sidecar serves, without polling {@code /healthz/ready}. A sidecar without the flag has a no-op one.
 */
public final class ReadyFile {
    private static final Logger LOG = LoggerFactory.getLogger(ReadyFile.class);

    private final Path path;

    private ReadyFile(Path path) {
        this.path = path;
    }

    /** The ready file at {@code path} (null: none), with any stale one removed. */
    public static ReadyFile at(Path path) throws IOException {
        if (path != null) {
            Files.deleteIfExists(path);
        }
        return new ReadyFile(path);
    }

    /** Writes {@code content} (one {@code key=value} per line). */
    public void announce(String content) {
        if (path == null) {
            return;
        }
        try {
            OwnerOnlyFiles.write(path, content);
        } catch (IOException e) {
            LOG.error("could not write the ready file {}: {}", path, e.toString());
        }
    }

    /** Removes the file: the sidecar is going away. */
    public void withdraw() {
        if (path == null) {
            return;
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.warn("could not remove the ready file {}: {}", path, e.toString());
        }
    }
}
