package io.trellis.sidecar.errors;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;

/**
 * The one place a failure becomes a response. HTTP callers get the table's status, a {@code trellis-error}
 * header and a small JSON body; gRPC callers get a trailers-only response with the table's
 * {@code grpc-status} (and the same header), so their client libraries report a proper status.
 */
public final class ErrorResponses {
    /** The header naming the error code on every response the sidecar makes itself. */
    public static final String ERROR_HEADER = "trellis-error";
    /** nginx's status for a client that closed the connection before the answer: no standard one exists. */
    private static final StatusCode CLIENT_CLOSED_REQUEST = StatusCodes.custom(499, "Client Closed Request",
            "The client went away before the response", false, true);

    private ErrorResponses() {
    }

    /** Unwraps {@code failure} to the {@link ProxyException} behind it, if there is one. */
    public static ProxyException asProxyException(Throwable failure) {
        Throwable cause = Causes.unwrap(failure);
        if (cause instanceof ProxyException proxy) {
            return proxy;
        }
        // Anything else is a bug in the sidecar: still named, never a bare 500 from deep inside Pekko.
        return new ProxyException(ProxyError.UPSTREAM_RESET, "the proxy failed the request: " + cause.getClass().getSimpleName(),
                cause);
    }

    /** True when {@code request} is a gRPC call (its callers need a gRPC status, not an HTTP one). */
    public static boolean isGrpc(HttpRequest request) {
        String mediaType = request.entity().getContentType().mediaType().toString();
        return mediaType.startsWith("application/grpc");
    }

    /**
     * The response for {@code error}.
     *
     * @param service the destination (outbound) or this sidecar's service (inbound); may be null
     * @param requestId the request's {@code x-request-id}; may be null
     */
    public static HttpResponse respond(HttpRequest request, ProxyException error, String service, String requestId) {
        ProxyError kind = error.error();
        String message = error.getMessage() == null ? kind.code() : error.getMessage();
        List<HttpHeader> headers = requestId == null
                ? List.of(RawHeader.create(ERROR_HEADER, kind.code()))
                : List.of(RawHeader.create(ERROR_HEADER, kind.code()), RawHeader.create("x-request-id", requestId));
        if (isGrpc(request)) {
            return HttpResponse.create().withStatus(StatusCodes.OK).addHeaders(headers)
                    .addHeader(RawHeader.create("grpc-status", Integer.toString(kind.grpcStatus().number())))
                    .addHeader(RawHeader.create("grpc-message", grpcMessage(kind.code() + ": " + message)))
                    .withEntity(HttpEntities.create(ContentTypes.parse("application/grpc"), new byte[0]));
        }
        String body = "{\"error\":" + json(kind.code()) + ",\"message\":" + json(message)
                + ",\"service\":" + json(service) + ",\"requestId\":" + json(requestId) + "}";
        return HttpResponse.create().withStatus(status(kind)).addHeaders(headers)
                .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, body));
    }

    private static StatusCode status(ProxyError kind) {
        return kind == ProxyError.CLIENT_ABORTED ? CLIENT_CLOSED_REQUEST : StatusCodes.get(kind.httpStatus());
    }

    /** gRPC's percent-encoding of {@code grpc-message} (spaces and printable ASCII stay readable). */
    private static String grpcMessage(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if (c >= 0x20 && c <= 0x7e && c != '%') {
                out.append((char) c);
            } else {
                out.append('%').append(String.format("%02X", c));
            }
        }
        return out.toString();
    }

    private static String json(String value) {
        if (value == null) {
            return "null";
        }
        StringBuilder out = new StringBuilder(value.length() + 2).append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }
}
