package io.trellis.sidecar.telemetry;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Every metric the sidecar exports, declared in one place and served as Prometheus text on the admin port.
 * Meters for a (direction, service, status class) are created once and cached, so the request path only
 * looks up a map and increments. Recording never throws into the data path. Thread-safe.
 */
public final class ProxyMetrics {
    /** Latency buckets (seconds) for request histograms: fixed, so series count stays small. */
    private static final Duration[] LATENCY_BUCKETS = {
        Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25),
        Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1),
        Duration.ofMillis(2500), Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(30)};

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final ConcurrentHashMap<String, Counter> requests = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> grpcResponses = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Timer> latencies = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> errors = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> handshakeFailures = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> resilience = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, AtomicLong> gauges = new ConcurrentHashMap<>();
    private final AtomicLong certificateNotAfter = new AtomicLong();
    private final AtomicLong configVersion = new AtomicLong();
    private final Counter nacks;

    /** Registers the process-wide meters. */
    public ProxyMetrics() {
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        Gauge.builder("process.resident.memory", ProxyMetrics::residentBytes).baseUnit("bytes")
                .description("Resident set size of the sidecar process").register(registry);
        Gauge.builder("trellis.certificate.expiry", certificateNotAfter, AtomicLong::get).baseUnit("seconds")
                .description("When the workload certificate expires (Unix time); 0 before the first one").register(registry);
        Gauge.builder("trellis.config.version", configVersion, AtomicLong::get)
                .description("Version of the snapshot in force; 0 before the first one").register(registry);
        nacks = Counter.builder("trellis.config.nacks").description("Snapshots rejected (NACKed)").register(registry);
    }

    /** Counts one finished request and its latency to response headers. {@code direction} is inbound or outbound. */
    public void requestCompleted(String direction, String service, int status, long nanos) {
        countStatus(direction, service, status);
        responseStarted(direction, service, nanos);
    }

    /** Records the time to response headers of a request that is counted when it ends ({@link #grpcCompleted}). */
    public void responseStarted(String direction, String service, long nanos) {
        latencies.computeIfAbsent(direction + '|' + service, k -> Timer.builder("trellis.request.duration")
                .description("Time to response headers").tag("direction", direction).tag("service", service)
                .serviceLevelObjectives(LATENCY_BUCKETS).register(registry))
                .record(nanos, TimeUnit.NANOSECONDS);
    }

    /**
     * Counts one finished gRPC call by its {@code grpc-status}: in {@code trellis_grpc_responses_total}, and in
     * {@code trellis_requests_total} under the status class of the code's HTTP equivalent (a DEADLINE_EXCEEDED
     * counts as 5xx, never as the 2xx of its HTTP status).
     */
    public void grpcCompleted(String direction, String service, int grpcStatus) {
        countStatus(direction, service, GrpcOutcome.httpEquivalent(grpcStatus));
        String name = GrpcOutcome.name(grpcStatus);
        grpcResponses.computeIfAbsent(direction + '|' + service + '|' + name, k -> Counter.builder("trellis.grpc.responses")
                .description("Finished gRPC calls by direction, service and grpc-status")
                .tag("direction", direction).tag("service", service).tag("grpc_status", name).register(registry))
                .increment();
    }

    private void countStatus(String direction, String service, int status) {
        String statusClass = (status / 100) + "xx";
        String key = direction + '|' + service + '|' + statusClass;
        requests.computeIfAbsent(key, k -> Counter.builder("trellis.requests")
                .description("Requests by direction, destination (outbound) or own (inbound) service, and status class")
                .tag("direction", direction).tag("service", service).tag("status_class", statusClass).register(registry))
                .increment();
    }

    /** Counts one response the sidecar made itself, by {@code trellis-error} code. */
    public void errorResponded(String direction, String code) {
        errors.computeIfAbsent(direction + '|' + code, k -> Counter.builder("trellis.errors")
                .description("Responses generated by the sidecar, by trellis-error code")
                .tag("direction", direction).tag("code", code).register(registry)).increment();
    }

    /** Counts one retry sent to {@code service}. */
    public void retried(String service) {
        count("trellis.retries", "Retries sent, by destination service", "service", service, null, null);
    }

    /**
     * Counts a retry that was needed but not made, by {@code reason}: {@code budget}, {@code non-idempotent},
     * {@code body-too-large} or {@code deadline}.
     */
    public void retrySkipped(String service, String reason) {
        count("trellis.retries.skipped", "Retries needed but not made, by destination service and reason", "service",
                service, "reason", reason);
    }

    /** Counts an outbound request refused by the destination's circuit breaker or concurrency limits. */
    public void rejected(String service, String code) {
        count("trellis.rejected", "Outbound requests failed fast (circuit-open, overloaded), by service and code",
                "service", service, "code", code);
    }

    /** Counts an inbound request refused by the rate limit. */
    public void rateLimited(String service) {
        count("trellis.rate.limited", "Inbound requests refused by the rate limit", "service", service, null, null);
    }

    /** Counts a fault injected by a route rule ({@code delay} or {@code abort}). */
    public void faultInjected(String service, String kind) {
        count("trellis.faults.injected", "Faults injected by route rules", "service", service, "kind", kind);
    }

    /** Counts a fallback response served instead of calling {@code service}. */
    public void fallbackServed(String service) {
        count("trellis.fallbacks", "Static fallback responses served", "service", service, null, null);
    }

    /** Sets the number of ejected endpoints of {@code service}. */
    public void endpointsEjected(String service, int ejected) {
        setGauge("trellis.outlier.ejected", "Endpoints currently ejected by outlier detection", service, ejected);
    }

    /**
     * Sets the state of {@code service}'s breaker for one backend set: 0 closed, 1 open, 2 half-open.
     *
     * @param subset the backend set's labels as {@code k=v,k2=v2} (sorted), or {@code all} for the whole service
     */
    public void breakerState(String service, String subset, int state) {
        try {
            gauge("trellis.circuit.state", "Circuit breaker state per backend set: 0 closed, 1 open, 2 half-open",
                    "service", service, "subset", subset).set(state);
        } catch (RuntimeException e) {
            // Recording must never break the data path (this runs on state transitions inside requests).
        }
    }

    /**
     * Counts one opaque-TCP connection by how it ended up: {@code accepted} (the two sides were joined) or the error
     * code it was refused with. {@code direction} is outbound (from the app) or inbound (from a peer sidecar).
     */
    public void tcpConnection(String direction, String service, String outcome) {
        increment("trellis.tcp.connections", "Opaque-TCP connections, by direction, service and outcome (accepted or the"
                + " refusal's code)", "direction", direction, "service", service, "outcome", outcome);
    }

    /**
     * Counts one refusal or cut by a listener's limit ({@code limit} is a {@code Limit} label: connections,
     * request-head-timeout, control-frames, premature-resets, ...) on a listener of {@code direction}.
     */
    public void limitHit(String direction, String limit) {
        increment("trellis.limit.hits", "Connections and requests refused or cut by a listener limit, by direction"
                + " and limit", "direction", direction, "limit", limit);
    }

    /** The gauge of open opaque-TCP connections for (direction, service); callers add and subtract. */
    public AtomicLong tcpActive(String direction, String service) {
        return gauge("trellis.tcp.active.connections", "Open opaque-TCP connections", "direction", direction,
                "service", service);
    }

    /**
     * The byte counter of opaque-TCP traffic for (direction, service, flow), fetched once per connection:
     * {@code flow} is {@code to-upstream} (towards the service's app) or {@code from-upstream}.
     */
    public Counter tcpBytes(String direction, String service, String flow) {
        return resilience.computeIfAbsent("trellis.tcp.bytes|" + direction + '|' + service + '|' + flow,
                k -> Counter.builder("trellis.tcp.bytes").description("Opaque-TCP bytes carried").baseUnit("bytes")
                        .tag("direction", direction).tag("service", service).tag("flow", flow).register(registry));
    }

    /** Counts an event published to {@code topic} and acknowledged by the brokers. */
    public void published(String topic) {
        count("trellis.kafka.published", "Events published through the sidecar and acknowledged, by topic", "topic", topic,
                null, null);
    }

    /** Counts a publish call that failed, by {@code trellis-error} code. */
    public void publishFailed(String topic, String code) {
        count("trellis.kafka.publish.failures", "Publish calls answered with an error, by topic and trellis-error code",
                "topic", topic, "code", code);
    }

    /** Counts an event the app accepted (2xx). */
    public void delivered(String subscription) {
        count("trellis.kafka.delivered", "Events delivered to the app (2xx), by subscription", "subscription", subscription,
                null, null);
    }

    /** Counts a delivery retried after a 5xx, 408, 429, timeout or broken connection. */
    public void deliveryRetried(String subscription) {
        count("trellis.kafka.delivery.retries", "Deliveries retried, by subscription", "subscription", subscription, null, null);
    }

    /** Counts an event written to its dead-letter topic ({@code rejected} by a 4xx, or retries {@code exhausted}). */
    public void deadLettered(String subscription, String reason) {
        count("trellis.kafka.dead.lettered", "Events written to the dead-letter topic, by subscription and reason",
                "subscription", subscription, "reason", reason);
    }

    /** The gauge of deliveries in flight for {@code subscription}, to increment and decrement. */
    public AtomicLong deliveriesInFlight(String subscription) {
        return gauge("trellis.kafka.in.flight", "Deliveries to the app in flight (including retry waits), by subscription",
                "subscription", subscription);
    }

    /** Sets the consumer lag of {@code subscription}: events in its partitions not yet fetched. */
    public void consumerLag(String subscription, long lag) {
        try {
            gauge("trellis.kafka.consumer.lag", "Events in the subscription's partitions not yet fetched (Kafka records-lag)",
                    "subscription", subscription).set(lag);
        } catch (RuntimeException e) {
            // Recording must never break delivery.
        }
    }

    private void count(String name, String description, String tag, String value, String tag2, String value2) {
        if (tag2 == null) {
            increment(name, description, tag, value);
        } else {
            increment(name, description, tag, value, tag2, value2);
        }
    }

    /** Increments the counter {@code name} with {@code tags} (key, value, key, value...), registered on first use. */
    private void increment(String name, String description, String... tags) {
        try {
            resilience.computeIfAbsent(name + '|' + String.join("|", tags),
                    k -> Counter.builder(name).description(description).tags(tags).register(registry)).increment();
        } catch (RuntimeException e) {
            // Counting must never break the data path.
        }
    }

    private void setGauge(String name, String description, String service, long value) {
        try {
            gauge(name, description, "service", service).set(value);
        } catch (RuntimeException e) {
            // Recording must never break the data path (these run on state transitions inside requests).
        }
    }

    /** The gauge {@code name} with {@code tags} (key, value, key, value...), registered on first use. */
    private AtomicLong gauge(String name, String description, String... tags) {
        return gauges.computeIfAbsent(name + '|' + String.join("|", tags), k -> {
            AtomicLong holder = new AtomicLong();
            Gauge.builder(name, holder, AtomicLong::get).description(description).tags(tags).register(registry);
            return holder;
        });
    }

    /** Counts a TLS handshake that failed because the peer's certificate was refused. */
    public void tlsHandshakeFailed(String direction) {
        handshakeFailures.computeIfAbsent(direction, d -> Counter.builder("trellis.tls.handshake.failures")
                .description("TLS handshakes refused because of the peer certificate")
                .tag("direction", d).register(registry)).increment();
    }

    /** Records the expiry of the installed certificate. */
    public void certificateInstalled(Instant notAfter) {
        certificateNotAfter.set(notAfter.getEpochSecond());
    }

    /** Records the version of the snapshot now in force. */
    public void configApplied(long version) {
        configVersion.set(version);
    }

    /** Counts a rejected snapshot. */
    public void configRejected() {
        nacks.increment();
    }

    /** The Prometheus text exposition of every meter. */
    public String scrape() {
        return registry.scrape();
    }

    private static double residentBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024.0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return Double.NaN;
        }
        return Double.NaN;
    }
}
