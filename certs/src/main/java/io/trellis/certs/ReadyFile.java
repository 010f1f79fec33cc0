package io.trellis.certs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A component's {@code --ready-file}: written (owner-only, atomically) when it first serves, with its addresses, and
 * removed when it stops; a stale one from an earlier run is removed when it is opened. Its presence tells a script
 * that the process serves, without polling. Without the flag the file is a no-op one. Used by the control plane and
 * the sidecar.
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

    /** Removes the file: the process is going away. */
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
