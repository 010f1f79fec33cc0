package io.trellis.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.e2e.app.TestBackend;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * 1 GiB up and 1 GiB down through both sidecars (each with a 64 MiB heap): bodies stream with backpressure,
 * so the sidecars' long-lived heap stays flat, as their own metrics report while the bytes flow.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MeshStreamingTest {
    private static final long GIB = 1L << 30;
    /** The sidecars run with -Xmx64m; a body held in memory would need 16 times that. */
    private static final double OLD_GEN_BOUND_BYTES = 32 * 1024 * 1024;

    private final ActorSystem<Void> system = MeshHarness.appSystem("streaming-test");
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private MeshHarness mesh;
    private SidecarProcess echo;
    private SidecarProcess web;

    @BeforeAll
    void startMesh() throws Exception {
        mesh = MeshHarness.start();
        TestBackend backend = TestBackend.start(system, 0);
        echo = mesh.startSidecar("echo", backend.port());
        web = mesh.startSidecar("web", MeshHarness.freePort(), "--upstream", "echo");
        MeshHarness.awaitCurl(Duration.ofSeconds(30), "web to learn about echo", status -> status == 200,
                "http://127.0.0.1:" + web.upstreamPort("echo") + "/echo");
    }

    @AfterAll
    void noNettyBufferLeakedThenStop() throws Exception {
        try {
            // Bodies pass between the sidecars' channels as pooled Netty buffers: whole, and aborted midway.
            MeshHarness.assertNoBufferLeaked(this::smallEcho, web, echo);
        } finally {
            if (mesh != null) {
                mesh.close();
            }
            system.terminate();
        }
    }

    private int smallEcho() throws Exception {
        HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create(
                "http://127.0.0.1:" + web.upstreamPort("echo") + "/echo")).POST(HttpRequest.BodyPublishers.ofString("still here"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return response.statusCode();
    }

    /** Samples the largest old-generation heap use of both sidecars until closed. */
    private final class HeapSampler implements AutoCloseable {
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final AtomicLong maxOldGen = new AtomicLong();
        private final AtomicLong samples = new AtomicLong();
        private final Thread thread = new Thread(() -> {
            long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
            while (running.get() && System.nanoTime() < deadline) {
                for (SidecarProcess sidecar : new SidecarProcess[] {web, echo}) {
                    try {
                        long used = (long) sidecar.metricSum("jvm_memory_used_bytes", "id=\"Tenured Gen\"");
                        maxOldGen.accumulateAndGet(used, Math::max);
                        samples.incrementAndGet();
                    } catch (Exception e) {
                        // A missed sample only weakens the bound; the transfer itself is what must not fail.
                    }
                }
                try {
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "heap-sampler");

        HeapSampler() {
            thread.start();
        }

        @Override
        public void close() {
            running.set(false);
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Test
    void oneGibDownloadStreamsThroughBothSidecarsWithFlatHeap() throws Exception {
        HeapSampler heap = new HeapSampler();
        long received = 0;
        try {
            HttpResponse<InputStream> response = client.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + web.upstreamPort("echo") + "/bytes?n=" + GIB)).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertThat(response.statusCode()).isEqualTo(200);
            byte[] buffer = new byte[256 * 1024];
            try (InputStream body = response.body()) {
                for (int n = body.read(buffer); n >= 0; n = body.read(buffer)) {
                    received += n;
                }
            }
        } finally {
            heap.close();
        }

        System.out.printf("1 GiB download: max old-gen heap of the sidecars %.1f MiB over %d samples%n",
                heap.maxOldGen.get() / 1048576.0, heap.samples.get());
        assertThat(received).isEqualTo(GIB);
        assertThat(heap.samples.get()).isPositive();
        assertThat((double) heap.maxOldGen.get()).isLessThan(OLD_GEN_BOUND_BYTES);
    }

    @Test
    void oneGibUploadStreamsThroughBothSidecarsWithFlatHeap() throws Exception {
        HeapSampler heap = new HeapSampler();
        HttpResponse<String> response;
        try {
            response = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + web.upstreamPort("echo") + "/upload"))
                    .POST(HttpRequest.BodyPublishers.fromPublisher(
                            HttpRequest.BodyPublishers.ofInputStream(() -> new ZeroStream(GIB)), GIB)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } finally {
            heap.close();
        }

        System.out.printf("1 GiB upload: max old-gen heap of the sidecars %.1f MiB over %d samples%n",
                heap.maxOldGen.get() / 1048576.0, heap.samples.get());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(MeshHarness.JSON.readTree(response.body()).get("bytes").asLong()).isEqualTo(GIB);
        assertThat(heap.samples.get()).isPositive();
        assertThat((double) heap.maxOldGen.get()).isLessThan(OLD_GEN_BOUND_BYTES);
    }

    @Test
    void aDownloadAndAnUploadAbortedMidwayLeaveTheMeshServing() throws Exception {
        for (int round = 0; round < 3; round++) {
            HttpResponse<InputStream> response = client.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + web.upstreamPort("echo") + "/bytes?n=" + GIB)).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertThat(response.statusCode()).isEqualTo(200);
            try (InputStream body = response.body()) {
                assertThat(body.readNBytes(8 << 20)).hasSize(8 << 20);
            }

            try (java.net.Socket socket = new java.net.Socket("127.0.0.1", web.upstreamPort("echo"))) {
                java.io.OutputStream out = socket.getOutputStream();
                out.write(("POST /upload HTTP/1.1\r\nHost: echo\r\nContent-Length: " + GIB + "\r\n\r\n")
                        .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                byte[] chunk = new byte[256 * 1024];
                for (int sent = 0; sent < 32; sent++) {
                    out.write(chunk);
                }
                out.flush();
            }
            assertThat(smallEcho()).as("round " + round).isEqualTo(200);
        }
    }

    /** {@code size} zero bytes, generated as read. */
    private static final class ZeroStream extends InputStream {
        private long remaining;

        ZeroStream(long size) {
            this.remaining = size;
        }

        @Override
        public int read() {
            if (remaining <= 0) {
                return -1;
            }
            remaining--;
            return 0;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) {
            if (remaining <= 0) {
                return -1;
            }
            int n = (int) Math.min(length, remaining);
            java.util.Arrays.fill(buffer, offset, offset + n, (byte) 0);
            remaining -= n;
            return n;
        }
    }
}
