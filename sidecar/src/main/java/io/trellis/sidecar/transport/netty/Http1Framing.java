package io.trellis.sidecar.transport.netty;

import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Strict HTTP/1.1 request framing (RFC 9112 §6), so that this sidecar and whatever parses the same bytes before or
 * after it can never disagree on where a request ends (request smuggling). Netty's decoder is set to refuse bare LF
 * line ends; on top of it a request is refused when its framing is ambiguous: {@code Transfer-Encoding} other than a
 * single final {@code chunked} (a folded {@code identity\r\n chunked} arrives as {@code identity chunked}),
 * {@code Transfer-Encoding} beside {@code Content-Length}, or {@code Transfer-Encoding} in HTTP/1.0. A refused
 * request is answered {@code bad-request} and its connection closed. Stateless.
 */
final class Http1Framing {
    private Http1Framing() {
    }

    /** The decoder settings for every HTTP/1.1 listener: strict line parsing, RFC 9112 transfer codings. */
    static HttpDecoderConfig decoderConfig() {
        return new HttpDecoderConfig().setStrictLineParsing(true).setUseRfc9112TransferEncoding(true);
    }

    /** Why {@code head}'s framing is refused, if it is. */
    static Optional<String> problem(HttpRequest head) {
        List<String> codings = head.headers().getAll(HttpHeaderNames.TRANSFER_ENCODING);
        if (codings.isEmpty()) {
            return Optional.empty();
        }
        if (head.protocolVersion().equals(HttpVersion.HTTP_1_0)) {
            return Optional.of("Transfer-Encoding in an HTTP/1.0 request");
        }
        if (codings.size() != 1 || !codings.get(0).strip().toLowerCase(Locale.ROOT).equals("chunked")) {
            return Optional.of("Transfer-Encoding '" + String.join(", ", codings) + "' (only a single 'chunked' is accepted)");
        }
        if (head.headers().contains(HttpHeaderNames.CONTENT_LENGTH)) {
            return Optional.of("both Transfer-Encoding and Content-Length");
        }
        return Optional.empty();
    }
}
