package io.trellis.controlplane.store;

import io.trellis.certs.OwnerOnlyFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded change log: an append-only file of length- and CRC-framed JSON records in the data
 * directory, fsynced on every append, plus a compacted state file written atomically.
 *
 * <p>Crash safety: an append is acknowledged only after {@code fsync}, so a crash can leave at most one
 * torn record at the tail, which recovery detects by its length or checksum and cuts off. Compaction
 * writes the state file first (atomic rename) and only then empties the log; a crash in between leaves
 * entries the state already covers, which recovery skips by index.
 *
 * <p>Not thread-safe: the {@link PolicyStore} serialises calls.
 */
public final class FileChangeLog implements ChangeLog {
    private static final Logger LOG = LoggerFactory.getLogger(FileChangeLog.class);
    private static final int HEADER_BYTES = 8;
    private static final int MAX_RECORD_BYTES = 64 << 20;

    private final Path dir;
    private final Path logFile;
    private final Path stateFile;
    private final LogCodec codec;
    private final int compactAfterEntries;
    private FileChannel channel;
    private int entriesSinceCompaction;

    /**
     * @param dir the directory holding {@code changes.log} and {@code state.json} (created if missing)
     * @param compactAfterEntries how many appends make {@link #wantsCompaction()} true
     */
    public FileChangeLog(Path dir, LogCodec codec, int compactAfterEntries) {
        this.dir = dir;
        this.logFile = dir.resolve("changes.log");
        this.stateFile = dir.resolve("state.json");
        this.codec = codec;
        this.compactAfterEntries = compactAfterEntries;
    }

    @Override
    public Recovered recover() throws IOException {
        Files.createDirectories(dir);
        MeshState compacted = Files.exists(stateFile) ? codec.decodeState(Files.readAllBytes(stateFile)) : MeshState.EMPTY;
        if (!Files.exists(logFile)) {
            Files.createFile(logFile, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            OwnerOnlyFiles.syncDirectory(dir);
        }
        channel = FileChannel.open(logFile, StandardOpenOption.READ, StandardOpenOption.WRITE);
        List<LogEntry> entries = new ArrayList<>();
        long goodEnd = readEntries(compacted.revision(), entries);
        long size = channel.size();
        if (goodEnd < size) {
            // Only the tail can be torn: every acknowledged record was fsynced before the next began.
            LOG.warn("change log {}: cutting {} bytes of an incomplete record at offset {} (never acknowledged)",
                    logFile, size - goodEnd, goodEnd);
            channel.truncate(goodEnd);
            channel.force(true);
        }
        channel.position(goodEnd);
        entriesSinceCompaction = entries.size();
        return new Recovered(compacted, entries);
    }

    private long readEntries(long afterRevision, List<LogEntry> into) throws IOException {
        long offset = 0;
        long size = channel.size();
        ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES);
        while (offset + HEADER_BYTES <= size) {
            header.clear();
            channel.read(header, offset);
            header.flip();
            int length = header.getInt();
            int crc = header.getInt();
            if (length <= 0 || length > MAX_RECORD_BYTES || offset + HEADER_BYTES + length > size) {
                break;
            }
            ByteBuffer payload = ByteBuffer.allocate(length);
            channel.read(payload, offset + HEADER_BYTES);
            if (checksum(payload.array()) != crc) {
                break;
            }
            LogEntry entry = codec.decodeEntry(payload.array());
            if (entry.index() > afterRevision) {
                into.add(entry);
            }
            offset += HEADER_BYTES + length;
        }
        return offset;
    }

    @Override
    public void append(LogEntry entry) throws IOException {
        byte[] payload = codec.encode(entry);
        ByteBuffer record = ByteBuffer.allocate(HEADER_BYTES + payload.length);
        record.putInt(payload.length).putInt(checksum(payload)).put(payload).flip();
        long start = channel.position();
        try {
            while (record.hasRemaining()) {
                channel.write(record);
            }
            channel.force(false);
        } catch (IOException e) {
            // Leave no partial record behind for the next append to follow.
            channel.truncate(start);
            channel.position(start);
            throw e;
        }
        entriesSinceCompaction++;
    }

    @Override
    public boolean wantsCompaction() {
        return entriesSinceCompaction >= compactAfterEntries;
    }

    @Override
    public void compact(MeshState state) throws IOException {
        OwnerOnlyFiles.write(stateFile, codec.encodeState(state));
        Path fresh = dir.resolve("changes.log.new");
        Files.deleteIfExists(fresh);
        Files.createFile(fresh, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try (FileChannel empty = FileChannel.open(fresh, StandardOpenOption.WRITE)) {
            empty.force(true);
        }
        channel.close();
        Files.move(fresh, logFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        OwnerOnlyFiles.syncDirectory(dir);
        channel = FileChannel.open(logFile, StandardOpenOption.READ, StandardOpenOption.WRITE);
        channel.position(channel.size());
        entriesSinceCompaction = 0;
        LOG.info("change log compacted at revision {}", state.revision());
    }

    private static int checksum(byte[] bytes) {
        CRC32C crc = new CRC32C();
        crc.update(bytes);
        return (int) crc.getValue();
    }

    @Override
    public void close() throws IOException {
        if (channel != null) {
            channel.close();
        }
    }
}
