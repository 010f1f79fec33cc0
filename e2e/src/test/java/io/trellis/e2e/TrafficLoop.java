package io.trellis.e2e;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Continuous requests from a few threads while a test disturbs the mesh. Bounded: it stops by itself after
 * {@code maxDuration} or {@code maxRequests}, whichever comes first. Every non-200 answer and every exception
 * is recorded.
 */
final class TrafficLoop implements AutoCloseable {
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicLong succeeded = new AtomicLong();
    private final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
    private final List<Thread> threads = new ArrayList<>();

    private TrafficLoop() {
    }

    /** Starts {@code threads} threads sending GET {@code url}. */
    static TrafficLoop start(String url, int threadCount, Duration maxDuration, long maxRequests) {
        TrafficLoop loop = new TrafficLoop();
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20)).GET().build();
        long deadline = System.nanoTime() + maxDuration.toNanos();
        AtomicLong sent = new AtomicLong();
        for (int i = 0; i < threadCount; i++) {
            Thread thread = new Thread(() -> {
                while (loop.running.get() && System.nanoTime() < deadline && sent.incrementAndGet() <= maxRequests) {
                    try {
                        HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
                        if (response.statusCode() == 200) {
                            loop.succeeded.incrementAndGet();
                        } else {
                            loop.failures.add(response.statusCode() + " " + response.headers().firstValue("trellis-error").orElse("")
                                    + " " + response.body());
                        }
                    } catch (Exception e) {
                        loop.failures.add(e.toString());
                    }
                }
            }, "traffic-" + i);
            thread.setDaemon(true);
            thread.start();
            loop.threads.add(thread);
        }
        return loop;
    }

    long succeeded() {
        return succeeded.get();
    }

    List<String> failures() {
        return List.copyOf(failures);
    }

    /** Stops the threads and waits for them. */
    @Override
    public void close() {
        running.set(false);
        try {
            for (Thread thread : threads) {
                thread.join(30_000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
