package io.trellis.sidecar.telemetry;

import java.util.HexFormat;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;

/**
 * Request correlation: {@code x-request-id} and W3C {@code traceparent} are passed through when present and
 * valid, and created when missing (a malformed traceparent is replaced, as the W3C spec asks).
 * {@code tracestate} and B3 headers pass through untouched. New ids come from the thread's {@link ThreadLocalRandom}:
 * they must be unique, not secret (OpenTelemetry's trace and span ids come from it too), and
 * {@code UUID.randomUUID()}'s {@code SecureRandom} took a lock and a read of {@code /dev/urandom} per request.
 * Stateless.
 */
public final class TraceHeaders {
    /** The request id header, echoed on every response. */
    public static final String REQUEST_ID = "x-request-id";
    private static final String TRACEPARENT = "traceparent";
    private static final HexFormat HEX = HexFormat.of();
    private static final Pattern VALID_TRACEPARENT =
            Pattern.compile("[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}(-.*)?");

    private TraceHeaders() {
    }

    /** {@code request} with a request id and a valid traceparent. */
    public static HttpRequest ensure(HttpRequest request) {
        HttpRequest out = request;
        Optional<String> id = header(request, REQUEST_ID);
        if (id.filter(value -> !value.isBlank() && value.length() <= 200).isEmpty()) {
            // Removing copies the header list: only a present (unusable) value is removed.
            out = (id.isPresent() ? out.removeHeader(REQUEST_ID) : out).addHeader(RawHeader.create(REQUEST_ID, newRequestId()));
        }
        Optional<String> traceparent = header(request, TRACEPARENT);
        if (traceparent.isEmpty() || !VALID_TRACEPARENT.matcher(traceparent.get()).matches()
                || traceparent.get().startsWith("ff")) {
            out = (traceparent.isPresent() ? out.removeHeader(TRACEPARENT) : out)
                    .addHeader(RawHeader.create(TRACEPARENT, newTraceparent()));
        }
        return out;
    }

    /** The request id (present after {@link #ensure}). */
    public static String requestId(HttpRequest request) {
        return header(request, REQUEST_ID).orElse(null);
    }

    /** The W3C traceparent (present after {@link #ensure}). */
    public static String traceparent(HttpRequest request) {
        return header(request, TRACEPARENT).orElse(null);
    }

    private static Optional<String> header(HttpRequest request, String name) {
        return request.getHeader(name).map(HttpHeader::value);
    }

    /** A random (version 4, RFC 9562) UUID. */
    private static String newRequestId() {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        long high = random.nextLong() & ~0xF000L | 0x4000L;
        long low = random.nextLong() & ~(0b11L << 62) | 1L << 63;
        return new UUID(high, low).toString();
    }

    private static String newTraceparent() {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        long high = random.nextLong();
        long low = random.nextLong() | 1;
        long span = random.nextLong() | 1;
        return "00-" + HEX.toHexDigits(high) + HEX.toHexDigits(low) + "-" + HEX.toHexDigits(span) + "-01";
    }
}
