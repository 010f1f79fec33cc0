package io.trellis.sidecar.transport.netty;

import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Strict HTTP/1.1 request framing (RFC 9112 §6), so that this sidecar and whatever parses the same bytes before or
 * after it can never disagree on where a request ends (request smuggling). Netty's decoder is set to refuse bare LF
 * line ends; on top of it a request is refused when its framing is ambiguous: {@code Transfer-Encoding} other than a
 * single final {@code chunked} (a folded {@code identity\r\n chunked} arrives as {@code identity chunked}), or
 * {@code Transfer-Encoding} in HTTP/1.0; {@code Transfer-Encoding} beside {@code Content-Length} the decoder itself
 * refuses in its RFC 9112 mode. A refused
 * request is answered {@code bad-request} and its connection closed. The same goes for heads beyond the limits:
 * a request line over {@link #MAX_INITIAL_LINE} is {@code uri-too-long} (414), headers over the listener's size or
 * {@link #MAX_HEADERS} in number are {@code headers-too-large} (431); the count bound is what keeps a head that passed
 * this listener within the next sidecar's HTTP/2 header-list limit, which counts 32 bytes per header on top.
 * Stateless.
 */
final class Http1Framing {
    /** The longest request line (method, target, version). */
    static final int MAX_INITIAL_LINE = 8 * 1024;
    /** The most header fields in one request head (Envoy's default too). */
    static final int MAX_HEADERS = 100;
    /**
     * The largest piece of body the decoder hands on at once: what one 64 KiB socket read holds, instead of Netty's
     * 8 KiB default, which cut every read of a bulk body into eight pieces to carry one by one.
     */
    static final int BODY_PIECE = 64 * 1024;

    private Http1Framing() {
    }

    /**
     * The decoder settings for an HTTP/1.1 listener: strict line parsing, RFC 9112 transfer codings, and heads of
     * at most {@code maxHeaderBytes} of headers.
     */
    static HttpDecoderConfig decoderConfig(int maxHeaderBytes) {
        return new HttpDecoderConfig().setStrictLineParsing(true).setUseRfc9112TransferEncoding(true)
                .setMaxInitialLineLength(MAX_INITIAL_LINE).setMaxHeaderSize(maxHeaderBytes).setMaxChunkSize(BODY_PIECE);
    }

    /** The decoder settings for a connection to the app: Netty's defaults, with bodies in pieces of {@link #BODY_PIECE}. */
    static HttpDecoderConfig appDecoderConfig() {
        return new HttpDecoderConfig().setMaxChunkSize(BODY_PIECE);
    }

    /** Why {@code head} is refused, as the error table's answer, if it is. */
    static Optional<ProxyException> refusal(HttpRequest head) {
        if (head.decoderResult().isFailure()) {
            Throwable cause = head.decoderResult().cause();
            if (cause instanceof TooLongHttpLineException) {
                return Optional.of(new ProxyException(ProxyError.URI_TOO_LONG, "the request line is longer than "
                        + MAX_INITIAL_LINE + " bytes"));
            }
            if (cause instanceof TooLongHttpHeaderException) {
                return Optional.of(new ProxyException(ProxyError.HEADERS_TOO_LARGE, "the request headers are larger than "
                        + "the listener accepts: " + cause.getMessage()));
            }
            return Optional.of(new ProxyException(ProxyError.BAD_REQUEST, "malformed request: " + cause));
        }
        if (head.headers().size() > MAX_HEADERS) {
            return Optional.of(new ProxyException(ProxyError.HEADERS_TOO_LARGE, head.headers().size()
                    + " header fields (at most " + MAX_HEADERS + ")"));
        }
        return problem(head).map(problem -> new ProxyException(ProxyError.BAD_REQUEST, "malformed request: " + problem));
    }

    /** The limit a refusal of {@link #refusal} counts under. */
    static Limit limit(ProxyError refusal) {
        return switch (refusal) {
            case URI_TOO_LONG -> Limit.URI_TOO_LONG;
            case HEADERS_TOO_LARGE -> Limit.HEADERS_TOO_LARGE;
            default -> Limit.MALFORMED_HTTP1;
        };
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
        return Optional.empty();
    }
}
