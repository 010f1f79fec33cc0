package io.trellis.sidecar.transport;

import java.util.Set;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * Connection-specific headers (RFC 9110 §7.6.1, plus the proxy and HTTP/2 ones) that describe one hop and must
 * not be forwarded to the next, in either direction. HTTP/2 forbids them outright, and Pekko logs a warning
 * for each one it has to drop, so they are removed before a message crosses a protocol boundary.
 */
public final class HopByHopHeaders {
    private static final Set<String> NAMES = Set.of("connection", "keep-alive", "timeout-access", "proxy-connection", "proxy-authenticate",
            "proxy-authorization", "upgrade", "transfer-encoding", "http2-settings", "raw-request-uri");

    private HopByHopHeaders() {
    }

    /** {@code request} without hop-by-hop headers (the same instance when it has none). */
    public static HttpRequest strip(HttpRequest request) {
        HttpRequest out = request;
        for (HttpHeader header : request.getHeaders()) {
            if (NAMES.contains(header.lowercaseName())) {
                out = out.removeHeader(header.name());
            }
        }
        return out;
    }

    /** {@code response} without hop-by-hop headers (the same instance when it has none). */
    public static HttpResponse strip(HttpResponse response) {
        HttpResponse out = response;
        for (HttpHeader header : response.getHeaders()) {
            if (NAMES.contains(header.lowercaseName())) {
                out = out.removeHeader(header.name());
            }
        }
        return out;
    }
}
