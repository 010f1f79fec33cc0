package io.trellis.sidecar.errors;

/**
 * Every response the sidecar makes itself, in one table: the {@code trellis-error} code, the HTTP status
 * and the gRPC status a gRPC caller gets instead (DESIGN.md §5). No catch-all: each failure names its cause.
 */
public enum ProxyError {
    /** No service, route or listener matches the request's destination. */
    NO_ROUTE("no-route", 404, GrpcStatus.NOT_FOUND),
    /** The destination is known but has no endpoint that may be picked. */
    NO_HEALTHY_ENDPOINT("no-healthy-endpoint", 503, GrpcStatus.UNAVAILABLE),
    /** The destination's circuit breaker is open. */
    CIRCUIT_OPEN("circuit-open", 503, GrpcStatus.UNAVAILABLE),
    /** A concurrency limit of the destination is reached. */
    OVERLOADED("overloaded", 503, GrpcStatus.UNAVAILABLE),
    /** No connection (TCP or TLS) to the endpoint could be made; the request never reached it. */
    UPSTREAM_CONNECT_FAILURE("upstream-connect-failure", 503, GrpcStatus.UNAVAILABLE),
    /** The connection or stream broke after the request was sent. */
    UPSTREAM_RESET("upstream-reset", 502, GrpcStatus.UNAVAILABLE),
    /** No response within the deadline. */
    UPSTREAM_TIMEOUT("upstream-timeout", 504, GrpcStatus.DEADLINE_EXCEEDED),
    /** Retries were needed but the retry budget is spent. */
    RETRY_BUDGET_EXHAUSTED("retry-budget-exhausted", 503, GrpcStatus.UNAVAILABLE),
    /** Authorization policy (or mTLS mode) refuses the caller. */
    DENIED("denied", 403, GrpcStatus.PERMISSION_DENIED),
    /** The caller exceeds its rate limit. */
    RATE_LIMITED("rate-limited", 429, GrpcStatus.RESOURCE_EXHAUSTED),
    /** The request itself is malformed. */
    BAD_REQUEST("bad-request", 400, GrpcStatus.INVALID_ARGUMENT),
    /** The request's headers are more, or larger, than every hop of the mesh accepts. */
    HEADERS_TOO_LARGE("headers-too-large", 431, GrpcStatus.RESOURCE_EXHAUSTED),
    /** The request target is longer than every hop of the mesh accepts. */
    URI_TOO_LONG("uri-too-long", 414, GrpcStatus.INVALID_ARGUMENT),
    /** This sidecar has no certificate yet (or no config), so it cannot speak mTLS. */
    IDENTITY_UNAVAILABLE("identity-unavailable", 503, GrpcStatus.UNAVAILABLE),
    /** No Kafka broker is configured, or none acknowledged an event in time (it may or may not have been written). */
    BROKER_UNAVAILABLE("broker-unavailable", 503, GrpcStatus.UNAVAILABLE),
    /**
     * The caller stopped sending its request body (no byte for the destination's {@code streamIdle}, or not all of a
     * small body within 30 s, while it is buffered for retries): its fault, never held against the upstream.
     */
    REQUEST_TIMEOUT("request-timeout", 408, GrpcStatus.DEADLINE_EXCEEDED),
    /** The request body is larger than the sidecar accepts for this operation. */
    PAYLOAD_TOO_LARGE("payload-too-large", 413, GrpcStatus.RESOURCE_EXHAUSTED),
    /**
     * The caller went away (reset its stream, closed its connection) before its response ended. Nobody reads this
     * answer; it is counted (499, as nginx logs it) and never held against the upstream: no retry, no breaker or
     * outlier failure.
     */
    CLIENT_ABORTED("client-aborted", 499, GrpcStatus.CANCELLED);

    private final String code;
    private final int httpStatus;
    private final GrpcStatus grpcStatus;

    ProxyError(String code, int httpStatus, GrpcStatus grpcStatus) {
        this.code = code;
        this.httpStatus = httpStatus;
        this.grpcStatus = grpcStatus;
    }

    /** The error whose {@link #code()} is {@code code}, if any. */
    public static java.util.Optional<ProxyError> byCode(String code) {
        for (ProxyError error : values()) {
            if (error.code.equals(code)) {
                return java.util.Optional.of(error);
            }
        }
        return java.util.Optional.empty();
    }

    /** The value of the {@code trellis-error} header and the JSON body's {@code error} field. */
    public String code() {
        return code;
    }

    /** The HTTP status sent to HTTP callers. */
    public int httpStatus() {
        return httpStatus;
    }

    /** The gRPC status sent to gRPC callers. */
    public GrpcStatus grpcStatus() {
        return grpcStatus;
    }

    /** The gRPC status codes the table uses (numbers from the gRPC spec). */
    public enum GrpcStatus {
        CANCELLED(1), INVALID_ARGUMENT(3), DEADLINE_EXCEEDED(4), NOT_FOUND(5), PERMISSION_DENIED(7), RESOURCE_EXHAUSTED(8),
        UNAVAILABLE(14);

        private final int number;

        GrpcStatus(int number) {
            this.number = number;
        }

        /** The numeric code sent in {@code grpc-status}. */
        public int number() {
            return number;
        }
    }
}
