package io.trellis.sidecar.resilience;

import java.time.Duration;
import java.util.Optional;
import org.apache.pekko.http.javadsl.model.HttpRequest;

/**
 * The {@code trellis-timeout-ms} header between sidecars: how many milliseconds the calling sidecar still waits
 * for this attempt (Envoy's {@code x-envoy-expected-rq-timeout-ms}). The receiving sidecar stops waiting for its
 * app at the same moment, and abandons the app request. It can only shorten a request, so it needs no trust.
 */
public final class CallerDeadline {
    /** The header name. */
    public static final String HEADER = "trellis-timeout-ms";

    private CallerDeadline() {
    }

    /** The deadline the request carries, if well-formed and positive. */
    public static Optional<Duration> of(HttpRequest request) {
        return request.getHeader(HEADER).flatMap(header -> {
            try {
                long millis = Long.parseLong(header.value().trim());
                return millis > 0 ? Optional.of(Duration.ofMillis(millis)) : Optional.empty();
            } catch (NumberFormatException e) {
                return Optional.empty();
            }
        });
    }

    /** The header value for {@code remaining} (at least 1 ms). */
    public static String format(Duration remaining) {
        return Long.toString(Math.max(1, remaining.toMillis()));
    }
}
