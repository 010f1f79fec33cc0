package io.trellis.controlplane.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.controlplane.resource.Kind;
import io.trellis.controlplane.resource.ResourceCodec;
import io.trellis.controlplane.resource.ResourceKey;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileChangeLogTest {
    @TempDir
    Path dir;

    private final ResourceCodec codec = new ResourceCodec();
    private final Clock clock = Clock.fixed(Instant.parse("2026-11-21T12:00:00Z"), ZoneOffset.UTC);

    private PolicyStore open(int compactEvery) throws Exception {
        return new PolicyStore(new FileChangeLog(dir, new LogCodec(codec), compactEvery), clock);
    }

    private Change route(String name) {
        return new Change.PutResources(List.of(codec.decode(("kind: Route\nmetadata: {name: " + name
                + "}\nspec: {service: s, rules: [{}]}").getBytes(StandardCharsets.UTF_8), ResourceCodec.Format.YAML)));
    }

    @Test
    void replaysEveryCommittedEntryAfterReopen() throws Exception {
        try (PolicyStore store = open(1000)) {
            store.commit(route("a"));
            store.commit(route("b"));
            store.commit(new Change.DeleteResource(new ResourceKey(Kind.ROUTE, "default", "a"), null));
        }
        try (PolicyStore store = open(1000)) {
            assertThat(store.state().revision()).isEqualTo(3);
            assertThat(store.state().resources(Kind.ROUTE, null)).extracting(r -> r.metadata().name()).containsExactly("b");
        }
    }

    @Test
    void tornTailRecordIsCutAndEarlierEntriesKept() throws Exception {
        try (PolicyStore store = open(1000)) {
            store.commit(route("a"));
            store.commit(route("b"));
        }
        Path log = dir.resolve("changes.log");
        long goodSize = Files.size(log);
        // A crash in the middle of an append: a header promising more bytes than were written.
        Files.write(log, new byte[] {0, 0, 1, 0, 1, 2, 3, 4, '{', '"'}, StandardOpenOption.APPEND);
        try (PolicyStore store = open(1000)) {
            assertThat(store.state().revision()).isEqualTo(2);
            store.commit(route("c"));
        }
        assertThat(Files.size(log)).isGreaterThan(goodSize);
        try (PolicyStore store = open(1000)) {
            assertThat(store.state().resources(Kind.ROUTE, null)).hasSize(3);
        }
    }

    @Test
    void corruptedRecordChecksumEndsReplayThere() throws Exception {
        try (PolicyStore store = open(1000)) {
            store.commit(route("a"));
            store.commit(route("b"));
        }
        Path log = dir.resolve("changes.log");
        byte[] bytes = Files.readAllBytes(log);
        bytes[bytes.length - 3] ^= 0x20;
        Files.write(log, bytes);
        try (PolicyStore store = open(1000)) {
            assertThat(store.state().revision()).isEqualTo(1);
        }
    }

    @Test
    void compactionKeepsStateAndSkipsCoveredEntriesAfterACrashBetweenSteps() throws Exception {
        try (PolicyStore store = open(3)) {
            for (int i = 0; i < 7; i++) {
                store.commit(route("r" + i));
            }
            assertThat(Files.exists(dir.resolve("state.json"))).isTrue();
        }
        try (PolicyStore store = open(3)) {
            assertThat(store.state().revision()).isEqualTo(7);
            assertThat(store.state().resources(Kind.ROUTE, null)).hasSize(7);
        }
        // Simulate a crash after the state file was written but before the log was emptied: entries the
        // state already covers are still in the log.
        Path backup = dir.resolve("backup.log");
        Files.copy(dir.resolve("changes.log"), backup);
        try (PolicyStore store = open(3)) {
            store.commit(route("x"));
            store.commit(route("y"));
        }
        byte[] old = Files.readAllBytes(backup);
        byte[] current = Files.readAllBytes(dir.resolve("changes.log"));
        byte[] both = new byte[old.length + current.length];
        System.arraycopy(old, 0, both, 0, old.length);
        System.arraycopy(current, 0, both, old.length, current.length);
        Files.write(dir.resolve("changes.log"), both);
        try (PolicyStore store = open(1000)) {
            assertThat(store.state().revision()).isEqualTo(9);
            assertThat(store.state().resources(Kind.ROUTE, null)).hasSize(9);
        }
    }

    @Test
    void rejectedChangeIsNeitherLoggedNorApplied() throws Exception {
        try (PolicyStore store = open(1000)) {
            store.commit(route("a"));
            long size = Files.size(dir.resolve("changes.log"));
            try {
                store.commit(new Change.DeleteResource(new ResourceKey(Kind.ROUTE, "default", "a"), 99L));
            } catch (ConflictException expected) {
                assertThat(expected.getMessage()).contains("resourceVersion 99 is stale (current 1)");
            }
            assertThat(Files.size(dir.resolve("changes.log"))).isEqualTo(size);
            assertThat(store.state().revision()).isEqualTo(1);
        }
    }
}
