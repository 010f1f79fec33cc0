package io.trellis.sidecar.telemetry;

import io.trellis.sidecar.transport.BodyStreams;
import io.trellis.sidecar.transport.BodyWatcher;
import java.util.function.IntConsumer;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * How a gRPC call ended, for metrics: its {@code grpc-status}, found in the response headers (a trailers-only
 * answer) or in the trailers at the end of the stream, so that a failed call is never counted by its HTTP 200.
 * Each code has the HTTP status that {@code google.rpc.Code} documents as its equivalent.
 */
public final class GrpcOutcome {
    /** The code counted when a stream ends without a {@code grpc-status} (gRPC clients report UNKNOWN then). */
    public static final int UNKNOWN = 2;
    /** The code counted when the response stream was cut short or cancelled before its trailers. */
    public static final int CANCELLED = 1;

    private static final String[] NAMES = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
        "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
        "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
    private static final int[] HTTP = {200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401};

    private GrpcOutcome() {
    }

    /** The code's name ({@code DEADLINE_EXCEEDED}); codes outside the spec's 0-16 count as {@code UNKNOWN}. */
    public static String name(int code) {
        return NAMES[known(code)];
    }

    /** The HTTP status equivalent to {@code code} (OK 200, DEADLINE_EXCEEDED 504, UNAVAILABLE 503...). */
    public static int httpEquivalent(int code) {
        return HTTP[known(code)];
    }

    /**
     * {@code response} as it should be sent on, telling {@code onStatus} the call's code exactly once: at once when
     * the headers carry it, else when the stream's trailers pass (or {@link #CANCELLED} / {@link #UNKNOWN} when the
     * stream ends without them).
     */
    public static HttpResponse watch(HttpResponse response, IntConsumer onStatus) {
        int inHeaders = parse(response.getHeader("grpc-status").map(HttpHeader::value).orElse(null));
        if (inHeaders >= 0 || !BodyStreams.streamed(response.entity())) {
            onStatus.accept(inHeaders >= 0 ? inHeaders : UNKNOWN);
            return response;
        }
        int[] seen = {-1};
        return BodyStreams.watch(response, new BodyWatcher() {
            @Override
            public void trailers(Iterable<HttpHeader> trailers) {
                for (HttpHeader trailer : trailers) {
                    if (trailer.is("grpc-status")) {
                        seen[0] = parse(trailer.value());
                    }
                }
            }

            @Override
            public void ended(boolean readToEnd) {
                onStatus.accept(seen[0] >= 0 ? seen[0] : readToEnd ? UNKNOWN : CANCELLED);
            }
        });
    }

    private static int parse(String value) {
        if (value == null) {
            return -1;
        }
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            return UNKNOWN;
        }
    }

    private static int known(int code) {
        return code >= 0 && code < NAMES.length ? code : UNKNOWN;
    }
}
