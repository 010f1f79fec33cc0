package io.trellis.controlplane.resource;

import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * How callers treat one service: timeouts, retries, connection limits, outlier detection, circuit
 * breaking and load balancing (outbound side), its inbound rate limit, and the ports its app serves as
 * opaque TCP. Defaults: DESIGN.md §5.
 */
public record TrafficPolicySpec(String service, Timeouts timeouts, Retries retries, ConnectionLimits connectionLimits,
        OutlierDetection outlierDetection, CircuitBreaker circuitBreaker, LoadBalancer loadBalancer,
        RateLimit rateLimit, List<Port> ports) implements Spec {
    private static final int MAX_PORTS = 32;

    /** The policy a service gets when no TrafficPolicy names it. */
    public static TrafficPolicySpec defaultsFor(String service) {
        return new TrafficPolicySpec(service, null, null, null, null, null, null, null, null).withDefaults();
    }

    /** How a declared port is carried. Only opaque TCP is declared: the HTTP port is the sidecar's {@code --app-port}. */
    public enum PortProtocol { TCP }

    /**
     * A port of the service's app (on the app's loopback, behind its sidecar) that callers reach as opaque TCP,
     * over mTLS between the sidecars.
     */
    public record Port(Integer port, PortProtocol protocol) {
    }

    /** The declared opaque-TCP ports, in declaration order. */
    public List<Integer> tcpPorts() {
        return ports.stream().filter(p -> p.protocol() == PortProtocol.TCP).map(Port::port).toList();
    }

    /** Load-balancing algorithms. */
    public enum LoadBalancer { LEAST_REQUEST, ROUND_ROBIN, RANDOM, EWMA }

    /** Request, connect and idle timeouts. */
    public record Timeouts(Duration request, Duration connect, Duration streamIdle, Duration idle) {
        Timeouts withDefaults() {
            return new Timeouts(Spec.or(request, Duration.ofSeconds(15)), Spec.or(connect, Duration.ofSeconds(5)),
                    Spec.or(streamIdle, Duration.ofMinutes(5)), Spec.or(idle, Duration.ofHours(1)));
        }

        void validate(Validation v, String at) {
            v.positive(request, at + ".request");
            v.positive(connect, at + ".connect");
            v.positive(streamIdle, at + ".streamIdle");
            v.positive(idle, at + ".idle");
        }
    }

    /** Retry policy; {@code perTryTimeout} null means only the request timeout bounds an attempt. */
    public record Retries(Integer attempts, Duration perTryTimeout, List<String> retryOn, Backoff backoff,
            Budget budget, Boolean retryNonIdempotent, ByteSize maxBufferedBody) {
        /** Conditions a retry may be triggered by (plus any status code 500-599). */
        public static final Set<String> CONDITIONS = Set.of("connect-failure", "refused-stream", "reset", "5xx",
                "gateway-error", "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable");
        static final List<String> DEFAULT_RETRY_ON =
                List.of("connect-failure", "refused-stream", "reset", "502", "503", "504");

        Retries withDefaults() {
            return new Retries(Spec.or(attempts, 2), perTryTimeout, List.copyOf(Spec.or(retryOn, DEFAULT_RETRY_ON)),
                    Spec.or(backoff, new Backoff(null, null)).withDefaults(Duration.ofMillis(25), Duration.ofMillis(250)),
                    Spec.or(budget, new Budget(null, null)).withDefaults(), Spec.or(retryNonIdempotent, false),
                    Spec.or(maxBufferedBody, new ByteSize(64 * 1024)));
        }

        void validate(Validation v, String at) {
            v.check(attempts >= 0 && attempts <= 10, at + ".attempts", attempts, ">= 0 and <= 10");
            if (perTryTimeout != null) {
                v.positive(perTryTimeout, at + ".perTryTimeout");
            }
            for (int i = 0; i < retryOn.size(); i++) {
                String condition = retryOn.get(i);
                v.check(CONDITIONS.contains(condition) || isServerErrorCode(condition), at + ".retryOn[" + i + "]",
                        condition, "a status 500-599 or one of " + String.join(", ", CONDITIONS.stream().sorted().toList()));
            }
            backoff.validate(v, at + ".backoff");
            budget.validate(v, at + ".budget");
            v.check(maxBufferedBody.bytes() <= 16L << 20, at + ".maxBufferedBody", maxBufferedBody, "<= 16Mi");
        }

        private static boolean isServerErrorCode(String condition) {
            return condition.matches("5\\d\\d");
        }
    }

    /** Full-jitter exponential backoff between {@code base} and {@code max}. */
    public record Backoff(Duration base, Duration max) {
        Backoff withDefaults(Duration defaultBase, Duration defaultMax) {
            return new Backoff(Spec.or(base, defaultBase), Spec.or(max, defaultMax));
        }

        void validate(Validation v, String at) {
            v.positive(base, at + ".base");
            v.check(max.compareTo(base) >= 0, at + ".max", max, ">= base (" + DurationText.format(base) + ")");
        }
    }

    /** Retries allowed: at most {@code ratio} of requests plus {@code minPerSecond}. */
    public record Budget(Double ratio, Integer minPerSecond) {
        Budget withDefaults() {
            return new Budget(Spec.or(ratio, 0.2), Spec.or(minPerSecond, 10));
        }

        void validate(Validation v, String at) {
            v.between(ratio, 0, 1, at + ".ratio");
            v.atLeast(minPerSecond, 0, at + ".minPerSecond");
        }
    }

    /** Per-cluster concurrency limits; excess requests fail fast with {@code overloaded}. */
    public record ConnectionLimits(Integer maxConnections, Integer maxPendingRequests, Integer maxRequests) {
        ConnectionLimits withDefaults() {
            return new ConnectionLimits(Spec.or(maxConnections, 1024), Spec.or(maxPendingRequests, 1024),
                    Spec.or(maxRequests, 1024));
        }

        void validate(Validation v, String at) {
            v.atLeast(maxConnections, 1, at + ".maxConnections");
            v.atLeast(maxPendingRequests, 0, at + ".maxPendingRequests");
            v.atLeast(maxRequests, 1, at + ".maxRequests");
        }
    }

    /** Per-endpoint ejection after consecutive errors. */
    public record OutlierDetection(Integer consecutiveErrors, Duration interval, Duration baseEjectionTime,
            Integer maxEjectionPercent) {
        OutlierDetection withDefaults() {
            return new OutlierDetection(Spec.or(consecutiveErrors, 5), Spec.or(interval, Duration.ofSeconds(10)),
                    Spec.or(baseEjectionTime, Duration.ofSeconds(30)), Spec.or(maxEjectionPercent, 50));
        }

        void validate(Validation v, String at) {
            v.atLeast(consecutiveErrors, 1, at + ".consecutiveErrors");
            v.positive(interval, at + ".interval");
            v.positive(baseEjectionTime, at + ".baseEjectionTime");
            v.between(maxEjectionPercent, 0, 100, at + ".maxEjectionPercent");
        }
    }

    /** Cluster-wide breaker on the failure ratio, with half-open probes. */
    public record CircuitBreaker(Double failureRatio, Integer minRequests, Duration window, Duration openFor,
            Integer halfOpenProbes) {
        CircuitBreaker withDefaults() {
            return new CircuitBreaker(Spec.or(failureRatio, 0.5), Spec.or(minRequests, 20),
                    Spec.or(window, Duration.ofSeconds(10)), Spec.or(openFor, Duration.ofSeconds(30)),
                    Spec.or(halfOpenProbes, 3));
        }

        void validate(Validation v, String at) {
            v.check(failureRatio > 0 && failureRatio <= 1, at + ".failureRatio", failureRatio, "> 0 and <= 1");
            v.atLeast(minRequests, 1, at + ".minRequests");
            v.positive(window, at + ".window");
            v.positive(openFor, at + ".openFor");
            v.atLeast(halfOpenProbes, 1, at + ".halfOpenProbes");
        }
    }

    /** Inbound token bucket; {@code burst} defaults to one second's worth. */
    public record RateLimit(Double requestsPerSecond, Integer burst, Boolean perCaller) {
        RateLimit withDefaults() {
            int defaultBurst = requestsPerSecond == null ? 1 : (int) Math.max(1, Math.ceil(requestsPerSecond));
            return new RateLimit(requestsPerSecond, Spec.or(burst, defaultBurst), Spec.or(perCaller, false));
        }

        void validate(Validation v, String at) {
            if (v.required(requestsPerSecond, at + ".requestsPerSecond", "> 0")) {
                v.check(requestsPerSecond > 0, at + ".requestsPerSecond", requestsPerSecond, "> 0");
            }
            v.atLeast(burst, 1, at + ".burst");
        }
    }

    @Override
    public TrafficPolicySpec withDefaults() {
        return new TrafficPolicySpec(service, Spec.or(timeouts, new Timeouts(null, null, null, null)).withDefaults(),
                Spec.or(retries, new Retries(null, null, null, null, null, null, null)).withDefaults(),
                Spec.or(connectionLimits, new ConnectionLimits(null, null, null)).withDefaults(),
                Spec.or(outlierDetection, new OutlierDetection(null, null, null, null)).withDefaults(),
                Spec.or(circuitBreaker, new CircuitBreaker(null, null, null, null, null)).withDefaults(),
                Spec.or(loadBalancer, LoadBalancer.LEAST_REQUEST),
                rateLimit == null ? null : rateLimit.withDefaults(),
                ports == null ? List.of() : List.copyOf(ports));
    }

    @Override
    public void validate(Validation v) {
        v.dnsLabel(service, "spec.service");
        timeouts.validate(v, "spec.timeouts");
        retries.validate(v, "spec.retries");
        connectionLimits.validate(v, "spec.connectionLimits");
        outlierDetection.validate(v, "spec.outlierDetection");
        circuitBreaker.validate(v, "spec.circuitBreaker");
        if (rateLimit != null) {
            rateLimit.validate(v, "spec.rateLimit");
        }
        v.check(ports.size() <= MAX_PORTS, "spec.ports", ports.size(), "at most " + MAX_PORTS + " ports");
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        for (int i = 0; i < ports.size(); i++) {
            Port port = ports.get(i);
            String at = "spec.ports[" + i + "]";
            if (port == null) {
                v.error(at, "missing (expected {port, protocol})");
                continue;
            }
            if (v.required(port.port(), at + ".port", "1-65535")) {
                v.check(port.port() >= 1 && port.port() <= 65535, at + ".port", port.port(), "1-65535");
                v.check(seen.add(port.port()), at + ".port", port.port(), "a port not declared twice");
            }
            v.required(port.protocol(), at + ".protocol", "TCP");
        }
    }
}
