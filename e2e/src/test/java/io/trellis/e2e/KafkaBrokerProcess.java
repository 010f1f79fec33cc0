package io.trellis.e2e;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;

/**
 * A real single-node KRaft broker in its own process ({@code LocalKafkaBroker} from the sample apps), on fixed
 * ports and data directory so it can be killed and started again with its topics and offsets.
 */
final class KafkaBrokerProcess {
    private final MeshHarness harness;
    private final int port = MeshHarness.freePort();
    private final int controllerPort = MeshHarness.freePort();
    private final Path dataDir;
    private Process process;

    KafkaBrokerProcess(MeshHarness harness) {
        this.harness = harness;
        this.dataDir = harness.work().resolve("kafka");
    }

    /** Starts the broker and waits until it answers metadata requests. */
    void start() throws Exception {
        process = harness.launchSampleApp("io.trellis.samples.broker.LocalKafkaBroker", List.of("-Xmx384m", "-XX:+UseSerialGC"),
                List.of("--port", Integer.toString(port), "--controller-port", Integer.toString(controllerPort), "--data-dir",
                        dataDir.toString()), harness.work().resolve("kafka.log"));
        MeshHarness.await(Duration.ofSeconds(90), "the Kafka broker to start\n" + harness.logTail("kafka.log"), () -> {
            if (!process.isAlive()) {
                throw new AssertionError("the Kafka broker exited: " + harness.logTail("kafka.log"));
            }
            try (Admin admin = admin()) {
                return admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).size() == 1;
            } catch (Exception e) {
                return false;
            }
        });
    }

    /** SIGKILL, as a crash would. */
    void kill() throws InterruptedException {
        process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    }

    /** HOST:PORT for clients. */
    String bootstrap() {
        return "127.0.0.1:" + port;
    }

    /** An admin client (close it). */
    Admin admin() {
        Properties properties = new Properties();
        properties.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        properties.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        properties.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
        return Admin.create(properties);
    }

    /** Creates {@code topic} with {@code partitions} partitions. */
    void createTopic(String topic, int partitions) throws Exception {
        try (Admin admin = admin()) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
    }

    /** Client properties pointing at this broker, plus {@code extra}. */
    Properties clientProperties(Map<String, String> extra) {
        Properties properties = new Properties();
        properties.put("bootstrap.servers", bootstrap());
        properties.putAll(extra);
        return properties;
    }
}
