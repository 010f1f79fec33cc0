package io.trellis.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.trellis.e2e.app.EventSink;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The Kafka bridge against a real broker (a KRaft broker in its own process): publishing through the sidecar's
 * API, Subscriptions delivering to apps, dead letters, backpressure with a backlog, and at-least-once delivery
 * through kill -9 of the sidecar, of the app and of the broker. The broker test runs last: it kills the broker.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MeshKafkaTest {
    private final ActorSystem<Void> system = MeshHarness.appSystem("kafka-test");
    private MeshHarness mesh;
    private KafkaBrokerProcess broker;
    private SidecarProcess orders;

    @BeforeAll
    void startMeshAndBroker() throws Exception {
        mesh = MeshHarness.start();
        broker = new KafkaBrokerProcess(mesh);
        broker.start();
        mesh.apply("""
                kind: MeshConfig
                metadata: {name: default}
                spec: {kafka: {bootstrapServers: "%s"}}
                """.formatted(broker.bootstrap()));
        // The publisher gets the brokers from the mesh config; subscribers below from --kafka-bootstrap.
        orders = mesh.startSidecar("orders", MeshHarness.freePort());
    }

    @AfterAll
    void stopAll() throws Exception {
        if (mesh != null) {
            mesh.close();
        }
        system.terminate();
    }

    @Test
    @Order(1)
    void publishedEventsReachTheSubscriberAsCloudEvents() throws Exception {
        EventSink sink = EventSink.start(system);
        SidecarProcess notifications = subscriber("notifications", sink.port(), "roundtrip", "maxInFlight: 4");
        HttpResponse<String> published = publish(orders, "roundtrip?key=order-7", "application/json", "{\"orderId\":7,\"sku\":\"fig\"}",
                "ce-type", "com.example.order.placed", "x-request-id", "req-7",
                "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        assertThat(published.statusCode()).as(published.body()).isEqualTo(204);
        String eventId = published.headers().firstValue("trellis-event-id").orElseThrow();

        MeshHarness.await(Duration.ofSeconds(60), "the event at the subscriber\n" + notifications.logTail(), () -> sink.count() >= 1);
        EventSink.Delivery delivery = sink.deliveries().get(0);
        JsonNode event = MeshHarness.JSON.readTree(delivery.body());
        assertThat(delivery.header("content-type")).isEqualTo("application/cloudevents+json");
        assertThat(event.get("specversion").asText()).isEqualTo("1.0");
        assertThat(event.get("id").asText()).isEqualTo(eventId);
        assertThat(event.get("source").asText()).isEqualTo("spiffe://cluster.local/ns/default/sa/orders");
        assertThat(event.get("type").asText()).isEqualTo("com.example.order.placed");
        assertThat(java.time.Instant.parse(event.get("time").asText())).isCloseTo(java.time.Instant.now(),
                org.assertj.core.api.Assertions.within(2, java.time.temporal.ChronoUnit.MINUTES));
        assertThat(event.get("datacontenttype").asText()).isEqualTo("application/json");
        assertThat(event.get("data").get("sku").asText()).isEqualTo("fig");
        assertThat(event.get("traceparent").asText()).isEqualTo("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        assertThat(event.get("correlationid").asText()).isEqualTo("req-7");
        assertThat(delivery.header("trellis-topic")).isEqualTo("roundtrip");
        assertThat(delivery.header("trellis-key")).isEqualTo("order-7");
        assertThat(delivery.header("trellis-subscription")).isEqualTo("notifications-roundtrip");
        assertThat(delivery.header("trellis-delivery-attempt")).isEqualTo("1");
        assertThat(orders.metric("trellis_kafka_published_total{topic=\"roundtrip\"}")).isEqualTo(1);
        MeshHarness.await(Duration.ofSeconds(10), "the delivered metric",
                () -> metric(notifications, "trellis_kafka_delivered_total{subscription=\"notifications-roundtrip\"}") == 1);

        // Text and binary bodies are enveloped as a string and as base64.
        assertThat(publish(orders, "roundtrip", "text/plain", "hello").statusCode()).isEqualTo(204);
        assertThat(publish(orders, "roundtrip", "application/octet-stream", "\u0001\u0002").statusCode()).isEqualTo(204);
        MeshHarness.await(Duration.ofSeconds(30), "the text and binary events", () -> sink.count() >= 3);
        assertThat(MeshHarness.JSON.readTree(sink.deliveries().get(1).body()).get("data").asText()).isEqualTo("hello");
        assertThat(MeshHarness.JSON.readTree(sink.deliveries().get(2).body()).get("data_base64").asText()).isEqualTo("AQI=");
        // Neither side may start a thread per event (Pekko's futures do that unless completed directly).
        double publisherThreads = orders.metric("jvm_threads_started_threads_total");
        double subscriberThreads = notifications.metric("jvm_threads_started_threads_total");
        for (int i = 0; i < 200; i++) {
            assertThat(publish(orders, "roundtrip", "application/json", "{\"n\":" + i + "}").statusCode()).isEqualTo(204);
        }
        MeshHarness.await(Duration.ofSeconds(30), "200 more events at the subscriber", () -> sink.count() >= 203);
        assertThat(orders.metric("jvm_threads_started_threads_total") - publisherThreads).as("threads started by the publisher")
                .isLessThan(20);
        assertThat(notifications.metric("jvm_threads_started_threads_total") - subscriberThreads)
                .as("threads started by the subscriber").isLessThan(20);

        // Changed live: the old consumer drains, a new one joins the group and delivers to the new path. Events
        // published around the switch may still go to the old path (the old consumer rightly finishes what it has),
        // so publish until one arrives on the new path, bounded in count and time.
        double version = notifications.metric("trellis_config_version");
        mesh.apply(subscription("notifications", "roundtrip", "path: /v2/events"));
        MeshHarness.await(Duration.ofSeconds(20), "the changed subscription at notifications",
                () -> metric(notifications, "trellis_config_version") > version);
        java.util.function.BooleanSupplier onNewPath = () -> sink.deliveries().stream().anyMatch(d -> d.path().equals("/v2/events"));
        int switchEvents = 0;
        for (int i = 0; i < 120 && !onNewPath.getAsBoolean(); i++) {
            assertThat(publish(orders, "roundtrip", "text/plain", "to-v2-" + i).statusCode()).isEqualTo(204);
            switchEvents = i + 1;
            long next = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
            while (System.nanoTime() < next && !onNewPath.getAsBoolean()) {
                Thread.sleep(20); // polling the condition
            }
        }
        String last = "to-v2-" + (switchEvents - 1);
        MeshHarness.await(Duration.ofSeconds(10), "every switch event delivered, some on the new path\n" + notifications.logTail(),
                () -> onNewPath.getAsBoolean() && sink.deliveries().stream().anyMatch(d -> d.body().contains("\"data\":\"" + last + "\"")));
        // Removed live: the consumer drains and leaves its group.
        mesh.delete("subscriptions", "notifications-roundtrip");
        MeshHarness.await(Duration.ofSeconds(30), "the consumer to leave its group", () -> Set.of().equals(groupMembers("notifications")));
        assertThat(publish(orders, "roundtrip", "text/plain", "while-unsubscribed").statusCode()).isEqualTo(204);
        int delivered = sink.count();
        // Subscribed again: it resumes from the offsets committed on drain, so only the new event comes (a
        // redelivered older one would arrive first: the topic has one partition).
        mesh.apply(subscription("notifications", "roundtrip", "path: /events"));
        MeshHarness.await(Duration.ofSeconds(30), "the event published while unsubscribed",
                () -> sink.deliveries().stream().anyMatch(d -> d.body().contains("while-unsubscribed")));
        assertThat(sink.deliveries().subList(delivered, sink.count())).extracting(EventSink.Delivery::body)
                .singleElement().asString().contains("while-unsubscribed");
        notifications.stop();
        sink.close();
    }

    @Test
    @Order(2)
    void deliveriesReachAnAppThatRoutesOnTheRawTargetInOriginFormWithHost() throws Exception {
        int port = MeshHarness.freePort();
        mesh.launchPeer("recording-app", List.of("/usr/bin/python3",
                MeshHarness.peers().resolve("recording_http_app.py").toString(), Integer.toString(port)));
        MeshHarness.await(Duration.ofSeconds(20), "the python app to listen", () -> peerLog("recording-app").contains("ready"));
        SidecarProcess ledger = mesh.startSidecar("ledger", port, "--kafka-bootstrap", broker.bootstrap());
        mesh.apply(subscription("ledger", "originform", "path: /events"));

        // Publish until one arrives (one event every 2 s, for at most 60 s): the subscription takes effect once the
        // sidecar has it and its consumer has joined the group, which this test does not need to time.
        long[] nextPublish = {System.nanoTime()};
        try {
            MeshHarness.await(Duration.ofSeconds(60), "an event delivered to the python app", () -> {
                if (peerLog("recording-app").contains("requestline")) {
                    return true;
                }
                if (System.nanoTime() - nextPublish[0] >= 0) {
                    nextPublish[0] = System.nanoTime() + Duration.ofSeconds(2).toNanos();
                    assertThat(publishQuietly("originform", "{\"n\":1}")).isEqualTo(204);
                }
                return false;
            });
        } catch (AssertionError notDelivered) {
            throw new AssertionError(notDelivered.getMessage() + " (proxy status " + mesh.proxyStatus("ledger") + ")\n"
                    + ledger.logTail(), notDelivered);
        }
        JsonNode seen = MeshHarness.JSON.readTree(peerLog("recording-app").lines().filter(l -> l.contains("requestline"))
                .findFirst().orElseThrow());
        assertThat(seen.get("requestline").asText()).isEqualTo("POST /events HTTP/1.1");
        assertThat(seen.get("host").asText()).isEqualTo("127.0.0.1:" + port);
        assertThat(seen.get("body_bytes").asInt()).isPositive();
        ledger.stop();
    }

    /** {@code publish} from orders for a condition that cannot throw checked exceptions; its status. */
    private int publishQuietly(String topic, String json) {
        try {
            return publish(orders, topic, "application/json", json).statusCode();
        } catch (Exception e) {
            throw new AssertionError("publishing to " + topic + " failed: " + e.getMessage(), e);
        }
    }

    private String peerLog(String name) {
        try {
            return java.nio.file.Files.readString(mesh.work().resolve(name + ".log"));
        } catch (java.io.IOException e) {
            return "";
        }
    }

    @Test
    @Order(2)
    void badPublishCallsGetAClearErrorAndPublishNothing() throws Exception {
        HttpResponse<String> badTopic = publish(orders, "no%20spaces", "application/json", "{}");
        assertThat(badTopic.statusCode()).isEqualTo(400);
        assertThat(badTopic.headers().firstValue("trellis-error")).hasValue("bad-request");
        assertThat(badTopic.body()).contains("topic: 'no spaces'");
        HttpResponse<String> internal = publish(orders, "__consumer_offsets", "application/json", "{}");
        assertThat(internal.statusCode()).isEqualTo(400);
        HttpResponse<String> notJson = publish(orders, "roundtrip", "application/json", "{not json");
        assertThat(notJson.statusCode()).isEqualTo(400);
        assertThat(notJson.body()).contains("body: not valid JSON");
        HttpResponse<String> tooLarge = publish(orders, "roundtrip", "text/plain", "x".repeat(1024 * 1024));
        assertThat(tooLarge.statusCode()).isEqualTo(413);
        assertThat(tooLarge.headers().firstValue("trellis-error")).hasValue("payload-too-large");

        // A TopicPolicy: only billing may publish to payments.* topics; orders is refused, other topics stay open.
        mesh.apply("""
                kind: TopicPolicy
                metadata: {name: payments-writers, namespace: default}
                spec: {topics: ["payments.*"], publishers: ["spiffe://cluster.local/ns/default/sa/billing"]}
                """);
        // A new config version alone does not say it holds the policy (another change may have moved it): wait
        // until a probe topic of the restricted prefix is refused (one refusal counted).
        MeshHarness.await(Duration.ofSeconds(20), "the topic policy at orders", () -> {
            try {
                return publish(orders, "payments.probe", "application/json", "{}").statusCode() == 403;
            } catch (Exception e) {
                return false;
            }
        });
        HttpResponse<String> denied = publish(orders, "payments.settled", "application/json", "{}");
        assertThat(denied.statusCode()).isEqualTo(403);
        assertThat(denied.headers().firstValue("trellis-error")).hasValue("denied");
        assertThat(denied.body()).contains("spiffe://cluster.local/ns/default/sa/orders may not publish to payments.settled");
        assertThat(publish(orders, "payments-audit", "application/json", "{}").statusCode()).isEqualTo(204);
        assertThat(topicSize("payments.settled")).isZero();
        assertThat(orders.metricSum("trellis_kafka_publish_failures_total", "code=\"denied\"")).as("the probe and payments.settled")
                .isEqualTo(2);
    }

    @Test
    @Order(3)
    void refusedAndFailingEventsGoToTheDeadLetterTopicWithTheirMetadata() throws Exception {
        EventSink sink = EventSink.start(system).answer(delivery -> delivery.body().contains("poison-400") ? 400
                : delivery.body().contains("poison-500") ? 503 : 200);
        SidecarProcess billing = subscriber("billing", sink.port(), "invoices",
                "retries: {attempts: 2, backoff: {base: 10ms, max: 50ms}}");
        for (String body : List.of("{\"n\":1}", "{\"n\":2,\"poison-400\":true}", "{\"n\":3}", "{\"n\":4,\"poison-500\":true}", "{\"n\":5}")) {
            assertThat(publish(orders, "invoices", "application/json", body).statusCode()).isEqualTo(204);
        }
        List<ConsumerRecord<byte[], byte[]>> letters = readTopic("invoices.dlq", 2, Duration.ofSeconds(60));
        assertThat(letters).hasSize(2);
        Map<String, String> refused = headers(letters.get(0));
        Map<String, String> exhausted = headers(letters.get(1));
        assertThat(new String(letters.get(0).value(), StandardCharsets.UTF_8)).contains("poison-400");
        assertThat(refused).containsEntry("trellis-dlq-topic", "invoices").containsEntry("trellis-dlq-partition", "0")
                .containsEntry("trellis-dlq-offset", "1").containsEntry("trellis-dlq-attempts", "1")
                .containsEntry("trellis-dlq-reason", "rejected").containsEntry("trellis-dlq-error", "HTTP 400")
                .containsEntry("trellis-dlq-subscription", "billing-invoices").containsEntry("content-type", "application/cloudevents+json");
        assertThat(new String(letters.get(1).value(), StandardCharsets.UTF_8)).contains("poison-500");
        assertThat(exhausted).containsEntry("trellis-dlq-offset", "3").containsEntry("trellis-dlq-attempts", "3")
                .containsEntry("trellis-dlq-reason", "exhausted").containsEntry("trellis-dlq-error", "HTTP 503");
        // Every good event reached the app once; the 503 one was tried three times.
        MeshHarness.await(Duration.ofSeconds(20), "the last good event", () -> sink.deliveries().stream().anyMatch(d -> d.body().contains("\"n\":5")));
        assertThat(sink.deliveries().stream().filter(d -> d.body().contains("poison-500")).count()).isEqualTo(3);
        assertThat(billing.metricSum("trellis_kafka_dead_lettered_total", "reason=\"rejected\"")).isEqualTo(1);
        assertThat(billing.metricSum("trellis_kafka_dead_lettered_total", "reason=\"exhausted\"")).isEqualTo(1);
        assertThat(billing.metricSum("trellis_kafka_delivery_retries_total", "billing-invoices")).isEqualTo(2);
        billing.stop();
        sink.close();
    }

    @Test
    @Order(4)
    void aSlowAppDrainsABacklogInBoundedMemoryInPartitionOrderWithoutLeavingItsGroup() throws Exception {
        int events = 10_000;
        int partitions = 4;
        broker.createTopic("backlog", partitions);
        // 10,000 events of 8 KiB: 80 MB, more than the sidecar's whole 64 MiB heap.
        produce("backlog", events, 8 * 1024);
        // A slow app: every answer waits 3 ms, so the 10,000 take a while and the backlog waits in Kafka.
        EventSink sink = EventSink.start(system).delay(Duration.ofMillis(3));
        SidecarProcess audit = subscriber("audit", sink.port(), "backlog", "maxInFlight: 3");
        String group = "audit";
        Set<String> members = new HashSet<>();
        long maxLag = 0;
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(4);
        while (sink.count() < events && System.nanoTime() < deadline) {
            maxLag = Math.max(maxLag, (long) metric(audit, "trellis_kafka_consumer_lag{subscription=\"audit-backlog\"}"));
            Set<String> now = groupMembers(group);
            if (now != null) {
                members.addAll(now);
            }
            assertThat(audit.process().isAlive()).as("the sidecar is alive\n" + audit.logTail()).isTrue();
            Thread.sleep(500);
        }
        assertThat(sink.count()).as("events delivered").isGreaterThanOrEqualTo(events);
        // Order within each partition: offsets arrive strictly increasing.
        Map<Integer, Long> last = new HashMap<>();
        for (EventSink.Delivery delivery : sink.deliveries()) {
            Long previous = last.put(delivery.partition(), delivery.offset());
            assertThat(previous == null || delivery.offset() > previous).as("partition %d offset %d after %d", delivery.partition(),
                    delivery.offset(), previous).isTrue();
        }
        assertThat(last).hasSize(partitions);
        // Bounded parallelism: one per partition, at most maxInFlight.
        assertThat(sink.maxInFlight()).isLessThanOrEqualTo(3);
        // The backlog waited in Kafka, not in the sidecar: thousands were still unfetched while the app worked.
        assertThat(maxLag).isGreaterThan(events / 2);
        // One consumer, never replaced by a rebalance while the app was slow.
        assertThat(members).hasSize(1);
        assertThat(audit.logTail()).doesNotContain("OutOfMemoryError");
        audit.stop();
        sink.close();
    }

    @Test
    @Order(5)
    void killingTheSidecarMidStreamLosesNoEvent() throws Exception {
        int events = 3_000;
        broker.createTopic("shipments", 2);
        produce("shipments", events, 200);
        EventSink sink = EventSink.start(system).delay(Duration.ofMillis(2));
        SidecarProcess shipping = subscriber("shipping", sink.port(), "shipments", "maxInFlight: 2");
        MeshHarness.await(Duration.ofSeconds(60), "a third of the events", () -> sink.count() > events / 3);
        shipping.process().destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        int beforeRestart = sink.count();
        shipping.start();
        MeshHarness.await(Duration.ofSeconds(120), "every event after the restart\n" + shipping.logTail(),
                () -> distinct(sink, "shipments") >= events);
        long duplicates = sink.count() - distinct(sink, "shipments");
        System.out.printf("kill -9 of the sidecar after %d deliveries: %d events, %d distinct delivered, %d duplicates%n",
                beforeRestart, events, distinct(sink, "shipments"), duplicates);
        assertThat(distinct(sink, "shipments")).isEqualTo(events);
        shipping.stop();
        sink.close();
    }

    @Test
    @Order(6)
    void killingTheAppMidStreamLosesNoEvent() throws Exception {
        int events = 3_000;
        broker.createTopic("receipts", 2);
        produce("receipts", events, 200);
        int appPort = MeshHarness.freePort();
        Path record = mesh.work().resolve("receipts.record");
        List<String> appArgs = List.of(Integer.toString(appPort), "--record", record.toString(), "--delay-ms", "2");
        Process app = mesh.launchSampleApp("io.trellis.samples.notifications.NotificationsApp", List.of("-Xmx64m"), appArgs,
                mesh.work().resolve("notifications-app.log"));
        // Short waits for the app to come back (the default backoff goes up to 10 s).
        SidecarProcess receipts = subscriber("receipts", appPort, "receipts", "maxInFlight: 4",
                "retries: {attempts: 5, backoff: {base: 50ms, max: 1s}}");
        MeshHarness.await(Duration.ofSeconds(90), "a third of the events at the app", () -> lines(record).size() > events / 3);
        app.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        int beforeRestart = lines(record).size();
        // Not a wait for a condition: the app is held down for a second so deliveries meanwhile find its port
        // closed (nothing observable marks that moment; the in-flight gauge is above 0 while streaming anyway).
        Thread.sleep(1_000);
        mesh.launchSampleApp("io.trellis.samples.notifications.NotificationsApp", List.of("-Xmx64m"), appArgs,
                mesh.work().resolve("notifications-app.log"));
        MeshHarness.await(Duration.ofSeconds(120), "every event at the restarted app\n" + receipts.logTail(),
                () -> distinctOffsets(lines(record)) >= events);
        List<String> seen = lines(record);
        System.out.printf("kill -9 of the app after %d deliveries: %d events, %d distinct delivered, %d duplicates%n",
                beforeRestart, events, distinctOffsets(seen), seen.size() - distinctOffsets(seen));
        assertThat(distinctOffsets(seen)).isEqualTo(events);
        assertThat(receipts.metricSum("trellis_kafka_dead_lettered_total", "receipts")).isZero();
        receipts.stop();
    }

    @Test
    @Order(7)
    void aBrokerKilledDuringPublishingNeverYieldsAFalse204() throws Exception {
        Set<Integer> acknowledged = ConcurrentHashMap.newKeySet();
        List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        AtomicInteger slowestFailureMs = new AtomicInteger();
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicInteger next = new AtomicInteger();
        ExecutorService publishers = Executors.newFixedThreadPool(4);
        List<Future<?>> loops = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            loops.add(publishers.submit(() -> {
                long stopBy = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
                while (running.get() && System.nanoTime() < stopBy) {
                    int seq = next.getAndIncrement();
                    long started = System.nanoTime();
                    try {
                        HttpResponse<String> answer = publish(orders, "payments-audit", "application/json", "{\"seq\":" + seq + "}");
                        if (answer.statusCode() == 204) {
                            acknowledged.add(seq);
                        } else {
                            failures.add(answer.statusCode() + " " + answer.headers().firstValue("trellis-error").orElse("?"));
                            slowestFailureMs.accumulateAndGet((int) ((System.nanoTime() - started) / 1_000_000), Math::max);
                        }
                    } catch (Exception e) {
                        failures.add(e.toString());
                    }
                }
                return null;
            }));
        }
        try {
            MeshHarness.await(Duration.ofSeconds(60), "200 acknowledged events", () -> acknowledged.size() >= 200);
            broker.kill();
            MeshHarness.await(Duration.ofSeconds(60), "publish failures while the broker is down", () -> failures.size() >= 8);
            broker.start();
            int before = acknowledged.size();
            MeshHarness.await(Duration.ofSeconds(90), "publishing to resume", () -> acknowledged.size() >= before + 200);
        } finally {
            running.set(false);
            for (Future<?> loop : loops) {
                loop.get(60, TimeUnit.SECONDS);
            }
            publishers.shutdownNow();
        }
        Set<Integer> written = new HashSet<>();
        for (ConsumerRecord<byte[], byte[]> record : readTopic("payments-audit", acknowledged.size(), Duration.ofSeconds(60))) {
            JsonNode event = MeshHarness.JSON.readTree(record.value());
            if (event.path("data").has("seq")) {
                written.add(event.get("data").get("seq").asInt());
            }
        }
        System.out.printf("broker killed during publishing: %d acknowledged, %d failed (slowest failure %d ms), %d written%n",
                acknowledged.size(), failures.size(), slowestFailureMs.get(), written.size());
        assertThat(written).as("every event answered 204 is in the topic").containsAll(acknowledged);
        assertThat(failures).allMatch(f -> f.equals("503 broker-unavailable"), "failures name the broker");
        // Bounded: EventPublisher.DELIVERY_TIMEOUT (10 s) plus scheduling slack.
        assertThat(slowestFailureMs.get()).isLessThan(20_000);
    }

    /** Starts a sidecar for {@code service} and subscribes it to {@code topic}, delivering to /events. */
    private SidecarProcess subscriber(String service, int appPort, String topic, String... specLines) throws Exception {
        SidecarProcess sidecar = mesh.startSidecar(service, appPort, "--kafka-bootstrap", broker.bootstrap());
        double version = sidecar.metric("trellis_config_version");
        List<String> lines = new ArrayList<>(List.of("path: /events"));
        lines.addAll(List.of(specLines));
        mesh.apply(subscription(service, topic, lines.toArray(String[]::new)));
        try {
            MeshHarness.await(Duration.ofSeconds(60), "the subscription at " + service,
                    () -> metric(sidecar, "trellis_config_version") > version);
        } catch (AssertionError notApplied) {
            throw new AssertionError(notApplied.getMessage() + " (config version still " + metric(sidecar, "trellis_config_version")
                    + ", proxy status " + mesh.proxyStatus(service) + ")\n" + sidecar.logTail(), notApplied);
        }
        return sidecar;
    }

    /** The Subscription resource {@code <service>-<topic>} with {@code specLines} (which must include the path). */
    private static String subscription(String service, String topic, String... specLines) {
        StringBuilder spec = new StringBuilder("  service: " + service + "\n  topics: [" + topic + "]\n");
        for (String line : specLines) {
            spec.append("  ").append(line).append('\n');
        }
        return "kind: Subscription\nmetadata: {name: " + service + "-" + topic + ", namespace: default}\nspec:\n" + spec;
    }

    private HttpResponse<String> publish(SidecarProcess sidecar, String topicAndQuery, String contentType, String body,
            String... headers) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sidecar.apiPort() + "/v1/publish/"
                + topicAndQuery)).timeout(Duration.ofSeconds(30)).header("Content-Type", contentType)
                .POST(HttpRequest.BodyPublishers.ofString(body));
        for (int i = 0; i + 1 < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        return mesh.http().send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Produces {@code events} records of about {@code size} bytes, straight to the broker (not through a sidecar). */
    private void produce(String topic, int events, int size) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(broker.clientProperties(Map.of("acks", "all",
                "linger.ms", "5")), new ByteArraySerializer(), new ByteArraySerializer())) {
            String padding = "x".repeat(Math.max(0, size - 40));
            for (int i = 0; i < events; i++) {
                ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(topic, ("key-" + (i % 64)).getBytes(StandardCharsets.UTF_8),
                        ("{\"id\":\"" + topic + "-" + i + "\",\"seq\":" + i + ",\"pad\":\"" + padding + "\"}").getBytes(StandardCharsets.UTF_8));
                record.headers().add("content-type", "application/json".getBytes(StandardCharsets.UTF_8));
                producer.send(record);
            }
            producer.flush();
        }
    }

    /** Reads {@code topic} from the start until {@code expected} records arrived or {@code timeout} passed. */
    private List<ConsumerRecord<byte[], byte[]>> readTopic(String topic, int expected, Duration timeout) {
        List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(broker.clientProperties(Map.of(
                "group.id", "test-reader-" + System.nanoTime(), "auto.offset.reset", "earliest", "enable.auto.commit", "false")),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + timeout.toNanos();
            int idlePolls = 0;
            while (System.nanoTime() < deadline && (records.size() < expected || idlePolls < 3)) {
                int before = records.size();
                consumer.poll(Duration.ofMillis(500)).forEach(records::add);
                idlePolls = records.size() == before && records.size() >= expected ? idlePolls + 1 : 0;
            }
        }
        return records;
    }

    private long topicSize(String topic) throws Exception {
        try (var admin = broker.admin()) {
            if (!admin.listTopics().names().get(10, TimeUnit.SECONDS).contains(topic)) {
                return 0;
            }
        }
        return readTopic(topic, 1, Duration.ofSeconds(5)).size();
    }

    /** The member ids of {@code group}, or null when the broker could not say (never "empty" by mistake). */
    private Set<String> groupMembers(String group) {
        try (var admin = broker.admin()) {
            ConsumerGroupDescription description = admin.describeConsumerGroups(List.of(group)).describedGroups().get(group)
                    .get(10, TimeUnit.SECONDS);
            Set<String> ids = new HashSet<>();
            description.members().forEach(m -> ids.add(m.consumerId()));
            return ids;
        } catch (Exception e) {
            return null;
        }
    }

    private static Map<String, String> headers(ConsumerRecord<byte[], byte[]> record) {
        Map<String, String> out = new HashMap<>();
        for (Header header : record.headers()) {
            out.put(header.key(), new String(header.value(), StandardCharsets.UTF_8));
        }
        return out;
    }

    private static long distinct(EventSink sink, String topic) {
        return sink.deliveries().stream().filter(d -> topic.equals(d.header("trellis-topic")))
                .map(d -> d.partition() + "/" + d.offset()).distinct().count();
    }

    private static List<String> lines(Path file) {
        try {
            return Files.exists(file) ? Files.readAllLines(file) : List.of();
        } catch (java.io.IOException e) {
            return List.of();
        }
    }

    /** Distinct (partition, offset) pairs in the app's record file ({@code id topic partition offset} per line). */
    private static long distinctOffsets(List<String> lines) {
        return lines.stream().map(line -> line.split(" ")).filter(parts -> parts.length == 4)
                .map(parts -> parts[2] + "/" + parts[3]).distinct().count();
    }

    private static double metric(SidecarProcess sidecar, String nameWithLabels) {
        try {
            return sidecar.metric(nameWithLabels);
        } catch (java.io.IOException e) {
            return -1;
        }
    }
}
