import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The Kafka side of the benchmark (bench/kafka.sh): the same work done through a sidecar and by a plain Kafka
 * client, each printing {@code events_per_s=...}. Every loop is bounded by its event count and a time limit.
 *
 * <pre>
 * publish-sidecar API_PORT TOPIC EVENTS CONCURRENCY SIZE   POST /v1/publish, each caller waiting for its 204
 * publish-client  BROKERS  TOPIC EVENTS CONCURRENCY SIZE   producer.send().get() (acks=all, idempotent) per caller
 * topic           BROKERS  TOPIC PARTITIONS                creates a topic
 * fill            BROKERS  TOPIC EVENTS SIZE               a backlog, produced as fast as the client can
 * app             PORT                                     an app answering POST /events with 200, counting them
 * await           APP_PORT EVENTS                          waits until the app counted EVENTS; rate first to last
 * deliver-client  BROKERS  TOPIC EVENTS APP_PORT           consumer + HTTP POST per event (partitions in parallel, each in
 *                                                          order), committing after each batch: what the sidecar does
 * </pre>
 */
public final class KafkaBench {
    private static final Duration LIMIT = Duration.ofMinutes(5);

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "publish-sidecar" -> publishSidecar(Integer.parseInt(args[1]), args[2], Integer.parseInt(args[3]),
                    Integer.parseInt(args[4]), Integer.parseInt(args[5]));
            case "publish-client" -> publishClient(args[1], args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]),
                    Integer.parseInt(args[5]));
            case "topic" -> topic(args[1], args[2], Integer.parseInt(args[3]));
            case "fill" -> fill(args[1], args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]));
            case "app" -> app(Integer.parseInt(args[1]));
            case "await" -> await(Integer.parseInt(args[1]), Integer.parseInt(args[2]));
            case "deliver-client" -> deliverClient(args[1], args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]));
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
    }

    private static byte[] payload(int size, int seq) {
        String head = "{\"seq\":" + seq + ",\"pad\":\"";
        return (head + "x".repeat(Math.max(0, size - head.length() - 2)) + "\"}").getBytes(StandardCharsets.UTF_8);
    }

    /** Runs {@code concurrency} callers until {@code events} calls were made; prints the rate and failures. */
    private static void callers(int events, int concurrency, Caller caller) throws Exception {
        AtomicInteger next = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        long deadline = System.nanoTime() + LIMIT.toNanos();
        ExecutorService pool = Executors.newFixedThreadPool(concurrency);
        long start = System.nanoTime();
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < concurrency; t++) {
            done.add(pool.submit(() -> {
                for (int seq = next.getAndIncrement(); seq < events && System.nanoTime() < deadline; seq = next.getAndIncrement()) {
                    try {
                        if (!caller.call(seq)) {
                            failed.incrementAndGet();
                        }
                    } catch (Exception e) {
                        failed.incrementAndGet();
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : done) {
            f.get();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        pool.shutdown();
        System.out.printf("events_per_s=%.0f failed=%d seconds=%.1f%n", events / seconds, failed.get(), seconds);
    }

    interface Caller {
        boolean call(int seq) throws Exception;
    }

    private static void publishSidecar(int apiPort, String topic, int events, int concurrency, int size) throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        URI uri = URI.create("http://127.0.0.1:" + apiPort + "/v1/publish/" + topic);
        callers(events, concurrency, seq -> http.send(HttpRequest.newBuilder(uri).header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(payload(size, seq))).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode() == 204);
    }

    private static Properties producerProperties(String brokers) {
        Properties p = new Properties();
        p.put("bootstrap.servers", brokers);
        p.put("acks", "all");
        p.put("enable.idempotence", "true");
        p.put("linger.ms", "1");
        return p;
    }

    private static void publishClient(String brokers, String topic, int events, int concurrency, int size) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerProperties(brokers), new ByteArraySerializer(),
                new ByteArraySerializer())) {
            callers(events, concurrency, seq -> producer.send(new ProducerRecord<>(topic, payload(size, seq))).get() != null);
        }
    }

    private static void topic(String brokers, String topic, int partitions) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", brokers);
        try (org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(p)) {
            admin.createTopics(List.of(new org.apache.kafka.clients.admin.NewTopic(topic, partitions, (short) 1))).all().get();
        }
    }

    private static void fill(String brokers, String topic, int events, int size) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerProperties(brokers), new ByteArraySerializer(),
                new ByteArraySerializer())) {
            for (int i = 0; i < events; i++) {
                ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(topic, ("k" + i).getBytes(StandardCharsets.UTF_8),
                        payload(size, i));
                record.headers().add("content-type", "application/json".getBytes(StandardCharsets.UTF_8));
                producer.send(record);
            }
            producer.flush();
        }
    }

    private static void app(int port) throws IOException {
        AtomicLong count = new AtomicLong();
        AtomicLong first = new AtomicLong();
        AtomicLong last = new AtomicLong();
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 256);
        server.createContext("/events", exchange -> {
            exchange.getRequestBody().readAllBytes();
            long now = System.nanoTime();
            first.compareAndSet(0, now);
            last.set(now);
            count.incrementAndGet();
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        server.createContext("/count", exchange -> {
            byte[] body = (count.get() + " " + first.get() + " " + last.get()).getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.createContext("/reset", exchange -> {
            count.set(0);
            first.set(0);
            last.set(0);
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        server.setExecutor(Executors.newFixedThreadPool(8));
        server.start();
    }

    private static void await(int appPort, int events) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        long deadline = System.nanoTime() + LIMIT.toNanos();
        while (System.nanoTime() < deadline) {
            String[] state = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + appPort + "/count")).build(),
                    HttpResponse.BodyHandlers.ofString()).body().split(" ");
            if (Long.parseLong(state[0]) >= events) {
                double seconds = (Long.parseLong(state[2]) - Long.parseLong(state[1])) / 1e9;
                System.out.printf("events_per_s=%.0f failed=0 seconds=%.1f%n", events / seconds, seconds);
                return;
            }
            Thread.sleep(100);
        }
        System.out.println("events_per_s=0 failed=" + events + " seconds=" + LIMIT.toSeconds());
    }

    private static void deliverClient(String brokers, String topic, int events, int appPort) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", brokers);
        p.put("group.id", "bench-client-" + System.nanoTime());
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        p.put("max.poll.records", "500");
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        URI uri = URI.create("http://127.0.0.1:" + appPort + "/events");
        ExecutorService pool = Executors.newCachedThreadPool();
        long deadline = System.nanoTime() + LIMIT.toNanos();
        int delivered = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            while (delivered < events && System.nanoTime() < deadline) {
                ConsumerRecords<byte[], byte[]> batch = consumer.poll(Duration.ofMillis(100));
                List<Future<Integer>> partitions = new ArrayList<>();
                for (TopicPartition partition : batch.partitions()) {
                    List<ConsumerRecord<byte[], byte[]>> records = batch.records(partition);
                    partitions.add(pool.submit(() -> {
                        for (ConsumerRecord<byte[], byte[]> record : records) {
                            int status = http.send(HttpRequest.newBuilder(uri).header("content-type", "application/json")
                                    .POST(HttpRequest.BodyPublishers.ofByteArray(record.value())).build(),
                                    HttpResponse.BodyHandlers.discarding()).statusCode();
                            if (status != 200) {
                                throw new IllegalStateException("app answered " + status);
                            }
                        }
                        return records.size();
                    }));
                }
                for (Future<Integer> f : partitions) {
                    delivered += f.get();
                }
                consumer.commitSync();
            }
        }
        pool.shutdown();
        System.out.println("delivered=" + delivered);
    }

    private KafkaBench() {
    }
}
