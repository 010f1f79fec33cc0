package io.trellis.e2e;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a third-party command-line peer (redis-cli, openssl, Python's smtplib) to completion, bounded in time: its
 * output goes to a file, so a peer that hangs is killed at the deadline instead of blocking the test.
 */
final class PeerCommand {
    /** What the command printed (stdout and stderr together) and its exit code; -1 when it was killed. */
    record Output(int exitCode, String text) {
    }

    private PeerCommand() {
    }

    /** Runs {@code command} with {@code stdin} (may be empty) for at most {@code timeout}. */
    static Output run(Duration timeout, byte[] stdin, String... command) throws IOException, InterruptedException {
        Path out = Files.createTempFile("trellis-peer", ".out");
        try {
            Process process = new ProcessBuilder(List.of(command)).redirectErrorStream(true)
                    .redirectOutput(out.toFile()).start();
            try (OutputStream in = process.getOutputStream()) {
                in.write(stdin);
            } catch (IOException closedEarly) {
                // The peer exited before reading everything: its output says why.
            }
            boolean finished = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!finished) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            return new Output(finished ? process.exitValue() : -1, new String(Files.readAllBytes(out), StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /** Runs {@code command} with no input for at most {@code timeout}. */
    static Output run(Duration timeout, String... command) throws IOException, InterruptedException {
        return run(timeout, new byte[0], command);
    }
}
