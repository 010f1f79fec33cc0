package io.trellis.samples.broker;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * A single-node Kafka broker (KRaft: broker and controller in one process) for the demo and the tests, from the
 * Kafka jars on the classpath: nothing to install. Formats its data directory on first start and keeps it, so a
 * restart on the same directory and ports resumes with every topic and committed offset. Runs until SIGTERM.
 *
 * <p>Usage: {@code LocalKafkaBroker --port 9092 --controller-port 9093 --data-dir DIR}.
 */
public final class LocalKafkaBroker {
    private static final String CLUSTER_ID = "trellis-local-kafka-01"; // 22 characters, as Kafka's base64 UUIDs

    private LocalKafkaBroker() {
    }

    /** Formats (when new) and runs the broker; blocks until it shuts down. */
    public static void main(String[] args) throws IOException {
        int port = 9092;
        int controllerPort = 9093;
        Path dataDir = Path.of(".trellis", "kafka");
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--port" -> port = Integer.parseInt(args[i + 1]);
                case "--controller-port" -> controllerPort = Integer.parseInt(args[i + 1]);
                case "--data-dir" -> dataDir = Path.of(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown flag " + args[i]
                        + " (expected --port, --controller-port, --data-dir)");
            }
        }
        Path config = writeConfig(dataDir.toAbsolutePath(), port, controllerPort);
        int formatted = kafka.tools.StorageTool.execute(new String[] {"format", "--ignore-formatted", "-t", cluster(), "-c",
                config.toString()}, new PrintStream(System.out, true, StandardCharsets.UTF_8));
        if (formatted != 0) {
            System.err.println("formatting " + dataDir + " failed (exit " + formatted + ")");
            System.exit(1);
        }
        kafka.Kafka.main(new String[] {config.toString()});
    }

    /** Kafka wants a base64 UUID of 16 bytes. */
    private static String cluster() {
        return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(
                java.util.Arrays.copyOf(CLUSTER_ID.getBytes(StandardCharsets.US_ASCII), 16));
    }

    private static Path writeConfig(Path dataDir, int port, int controllerPort) {
        Properties p = new Properties();
        p.setProperty("process.roles", "broker,controller");
        p.setProperty("node.id", "1");
        p.setProperty("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
        p.setProperty("listeners", "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort);
        p.setProperty("advertised.listeners", "PLAINTEXT://127.0.0.1:" + port);
        p.setProperty("controller.listener.names", "CONTROLLER");
        p.setProperty("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.setProperty("inter.broker.listener.name", "PLAINTEXT");
        p.setProperty("log.dirs", dataDir.resolve("logs").toString());
        p.setProperty("num.partitions", "1");
        p.setProperty("auto.create.topics.enable", "true");
        p.setProperty("offsets.topic.replication.factor", "1");
        p.setProperty("offsets.topic.num.partitions", "3");
        p.setProperty("transaction.state.log.replication.factor", "1");
        p.setProperty("transaction.state.log.min.isr", "1");
        p.setProperty("min.insync.replicas", "1");
        p.setProperty("group.initial.rebalance.delay.ms", "0");
        // Small, local: no need for the default 1 GiB segments and 100 MiB socket buffers.
        p.setProperty("log.segment.bytes", Integer.toString(64 * 1024 * 1024));
        p.setProperty("num.network.threads", "2");
        p.setProperty("num.io.threads", "2");
        try {
            Files.createDirectories(dataDir);
            Path file = dataDir.resolve("server.properties");
            try (var out = Files.newBufferedWriter(file)) {
                p.store(out, "written by LocalKafkaBroker");
            }
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
