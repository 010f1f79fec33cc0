package io.trellis.sidecar.transport.netty;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * What the first bytes of a redirected connection say, read without consuming them: whether they start an HTTP/1.1
 * request, and its {@code Host} (without the port). A connection that sends something else (a TLS handshake, a
 * database's startup message) is not HTTP.
 *
 * @param http true when the bytes start a request line ({@code METHOD SP})
 * @param host the {@code Host} header's name, or null when there is none (or the head is larger than the bound)
 */
record RedirectedHead(boolean http, String host) {
    /** More bytes are needed to tell. */
    static final RedirectedHead INCOMPLETE = new RedirectedHead(false, null);
    private static final RedirectedHead NOT_HTTP = new RedirectedHead(false, null);
    private static final int MAX_METHOD = 10;

    /** Reads {@code in} from its reader index; at most {@code maxHeadBytes} are looked at for the head's end. */
    static RedirectedHead read(ByteBuf in, int maxHeadBytes) {
        int start = in.readerIndex();
        int readable = in.readableBytes();
        int method = 0;
        while (method < readable && method <= MAX_METHOD) {
            byte b = in.getByte(start + method);
            if (b == ' ') {
                break;
            }
            if (b < 'A' || b > 'Z') {
                return NOT_HTTP;
            }
            method++;
        }
        if (method == readable) {
            return method <= MAX_METHOD ? INCOMPLETE : NOT_HTTP;
        }
        if (method == 0 || method > MAX_METHOD) {
            return NOT_HTTP;
        }
        int limit = Math.min(readable, maxHeadBytes);
        String head = in.toString(start, limit, StandardCharsets.ISO_8859_1);
        int end = head.indexOf("\r\n\r\n");
        if (end < 0) {
            return readable < maxHeadBytes ? INCOMPLETE : new RedirectedHead(true, null);
        }
        for (String line : head.substring(0, end).split("\r\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).strip().equalsIgnoreCase("host")) {
                return new RedirectedHead(true, hostName(line.substring(colon + 1).strip()));
            }
        }
        return new RedirectedHead(true, null);
    }

    /** {@code inventory:8080} -> {@code inventory}; {@code [::1]:80} -> {@code ::1}. */
    private static String hostName(String authority) {
        String host = authority.toLowerCase(Locale.ROOT);
        if (host.startsWith("[")) {
            int close = host.indexOf(']');
            return close > 0 ? host.substring(1, close) : host;
        }
        int colon = host.lastIndexOf(':');
        return colon >= 0 ? host.substring(0, colon) : host;
    }
}
