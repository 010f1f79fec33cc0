package io.trellis.sidecar.resilience;

import io.trellis.sidecar.config.ClusterPolicy;
import io.trellis.sidecar.errors.ErrorResponses;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.pekko.http.javadsl.model.HttpMethod;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * What makes an attempt's result worth retrying, apart from whether a retry is then allowed (that is
 * {@link RetryBudget} and the stage's business). Pure functions over the result.
 */
public final class RetryRule {
    /** Methods that may be repeated without changing the outcome (RFC 9110 §9.2.2). */
    private static final Set<String> IDEMPOTENT = Set.of("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE");
    /** gRPC status numbers with the retry-condition names of DESIGN.md. */
    private static final Map<String, String> GRPC_CONDITIONS = Map.of("1", "cancelled", "4", "deadline-exceeded",
            "8", "resource-exhausted", "13", "internal", "14", "unavailable");

    /**
     * The peer sidecar's own refusals ({@code trellis-error}) that mean the same as a failure of ours: it stopped at
     * the deadline we sent it (our attempt timeout), it could not connect to its app (the request never reached the
     * app), or it refused the request before forwarding it, not being ready (a REFUSED_STREAM in effect).
     */
    private static final Map<String, String> PEER_CONDITIONS = Map.of(ProxyError.UPSTREAM_TIMEOUT.code(), "per-try-timeout",
            ProxyError.UPSTREAM_CONNECT_FAILURE.code(), "connect-failure", ProxyError.IDENTITY_UNAVAILABLE.code(), "refused-stream");

    private RetryRule() {
    }

    /**
     * The retry condition the result meets: {@code connect-failure}, {@code refused-stream}, {@code reset},
     * {@code per-try-timeout}, a status {@code 500}-{@code 599}, or a gRPC condition; empty when the result is final
     * whatever the policy (success, a 4xx, or a failure of the sidecar's own making such as {@code overloaded}).
     *
     * @param fromPeerSidecar whether {@code response} came from a mesh endpoint, whose sidecar removes every
     *     {@code trellis-error} its app sends: only then does that header describe the peer sidecar's own refusal
     *     (an external service's headers prove nothing)
     */
    public static Optional<String> condition(HttpResponse response, Throwable failure, boolean fromPeerSidecar) {
        if (failure != null) {
            ProxyException proxy = ErrorResponses.asProxyException(failure);
            return switch (proxy.error()) {
                case UPSTREAM_CONNECT_FAILURE -> Optional.of(proxy.getMessage().contains("REFUSED_STREAM")
                        ? "refused-stream" : "connect-failure");
                case UPSTREAM_RESET -> Optional.of(proxy.getMessage().contains("REFUSED_STREAM") ? "refused-stream" : "reset");
                case UPSTREAM_TIMEOUT -> Optional.of("per-try-timeout");
                default -> Optional.empty();
            };
        }
        if (fromPeerSidecar) {
            Optional<String> peer = response.getHeader(ErrorResponses.ERROR_HEADER).map(h -> PEER_CONDITIONS.get(h.value()));
            if (peer.isPresent()) {
                return peer;
            }
        }
        int status = response.status().intValue();
        if (status >= 500) {
            return Optional.of(Integer.toString(status));
        }
        // A trailers-only gRPC error arrives as HTTP 200 with grpc-status in the headers.
        return response.getHeader("grpc-status").map(h -> GRPC_CONDITIONS.get(h.value()));
    }

    /** Whether the policy's {@code retryOn} covers {@code condition}. */
    public static boolean covered(ClusterPolicy.Retries policy, String condition) {
        Set<String> on = policy.retryOn();
        if (on.contains(condition) || condition.equals("per-try-timeout")) {
            return true;
        }
        if (condition.length() == 3 && condition.charAt(0) == '5') {
            return on.contains("5xx") || (on.contains("gateway-error")
                    && (condition.equals("502") || condition.equals("503") || condition.equals("504")));
        }
        return false;
    }

    /** True when the request provably never reached the app, so any method may be sent again. */
    public static boolean neverReachedApp(String condition) {
        return condition.equals("connect-failure") || condition.equals("refused-stream");
    }

    /** True for methods that may be repeated safely. */
    public static boolean idempotent(HttpMethod method) {
        return IDEMPOTENT.contains(method.value());
    }

    /** The wait the upstream asked for ({@code Retry-After} seconds or {@code grpc-retry-pushback-ms}), if any. */
    public static Optional<Duration> pushback(HttpResponse response) {
        if (response == null) {
            return Optional.empty();
        }
        Optional<Duration> grpc = response.getHeader("grpc-retry-pushback-ms").flatMap(h -> parseLong(h.value()))
                .map(Duration::ofMillis);
        if (grpc.isPresent()) {
            return grpc;
        }
        // Only the delay-seconds form; an HTTP-date is rare between services and not worth a clock here.
        return response.getHeader("retry-after").flatMap(h -> parseLong(h.value())).map(Duration::ofSeconds);
    }

    private static Optional<Long> parseLong(String value) {
        try {
            long parsed = Long.parseLong(value.trim());
            return parsed >= 0 ? Optional.of(parsed) : Optional.empty();
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** An error that gives up because a retry was needed but the budget is spent. */
    public static ProxyException budgetExhausted(String service, Throwable last) {
        return new ProxyException(ProxyError.RETRY_BUDGET_EXHAUSTED, "retry budget of " + service
                + " is spent; last attempt: " + last.getMessage(), last);
    }
}
