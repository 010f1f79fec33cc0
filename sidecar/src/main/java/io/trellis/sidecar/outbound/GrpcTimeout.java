package io.trellis.sidecar.outbound;

import java.time.Duration;
import java.util.Optional;
import org.apache.pekko.http.javadsl.model.HttpRequest;

/** The gRPC {@code grpc-timeout} header: up to 8 digits and a unit (H, M, S, m, u, n), per the gRPC HTTP/2 spec. */
final class GrpcTimeout {
    static final String HEADER = "grpc-timeout";

    private GrpcTimeout() {
    }

    /** The caller's deadline, if it sent a well-formed one. */
    static Optional<Duration> of(HttpRequest request) {
        return request.getHeader(HEADER).flatMap(header -> parse(header.value()));
    }

    static Optional<Duration> parse(String value) {
        if (value.length() < 2 || value.length() > 9) {
            return Optional.empty();
        }
        long amount;
        try {
            amount = Long.parseLong(value.substring(0, value.length() - 1));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
        if (amount < 0) {
            return Optional.empty();
        }
        return switch (value.charAt(value.length() - 1)) {
            case 'H' -> Optional.of(Duration.ofHours(amount));
            case 'M' -> Optional.of(Duration.ofMinutes(amount));
            case 'S' -> Optional.of(Duration.ofSeconds(amount));
            case 'm' -> Optional.of(Duration.ofMillis(amount));
            case 'u' -> Optional.of(Duration.ofNanos(amount * 1000));
            case 'n' -> Optional.of(Duration.ofNanos(amount));
            default -> Optional.empty();
        };
    }

    /** {@code remaining} in the header's format (milliseconds, at least 1). */
    static String format(Duration remaining) {
        return Math.max(1, remaining.toMillis()) + "m";
    }
}
