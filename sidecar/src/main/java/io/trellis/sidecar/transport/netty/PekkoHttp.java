package io.trellis.sidecar.transport.netty;

import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.trellis.sidecar.transport.WatchedBody;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpMessage;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.RequestEntity;
import org.apache.pekko.http.javadsl.model.ResponseEntity;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

/**
 * Converts between the pipeline's message model (Pekko HTTP's immutable request and response, bodies as Pekko
 * Streams sources) and Netty's HTTP objects, keeping the framing: a known length stays a {@code Content-Length}, an
 * unknown one is chunked (HTTP/1.1) or plain DATA frames (HTTP/2), and a chunked body's trailers stay trailers.
 * Stateless.
 */
final class PekkoHttp {
    /** Headers the model keeps in the entity, and HTTP/2-to-HTTP/1 bookkeeping that is not the peer's. */
    private static final Set<String> NOT_HEADERS = Set.of("content-type", "content-length", "transfer-encoding",
            HttpConversionUtil.ExtensionHeaderNames.STREAM_ID.text().toString(),
            HttpConversionUtil.ExtensionHeaderNames.SCHEME.text().toString(),
            HttpConversionUtil.ExtensionHeaderNames.PATH.text().toString(),
            HttpConversionUtil.ExtensionHeaderNames.STREAM_DEPENDENCY_ID.text().toString(),
            HttpConversionUtil.ExtensionHeaderNames.STREAM_WEIGHT.text().toString(),
            HttpConversionUtil.ExtensionHeaderNames.STREAM_PROMISE_ID.text().toString());
    /**
     * The {@code Content-Length} of an HTTP/2 request or response whose body is held chunked so that its trailers can
     * follow it (HTTP/2 allows both; the model's entities hold one framing): the length is sent on with the body, the
     * trailers too where the next hop can carry both (HTTP/2), and only the length where it cannot (HTTP/1.1).
     */
    static final org.apache.pekko.http.javadsl.model.AttributeKey<Long> DECLARED_LENGTH =
            org.apache.pekko.http.javadsl.model.AttributeKey.create("trellis-declared-length", Long.class);
    /** The distinct values a sidecar sees are few (its services, its app's media types); 256 of each are kept. */
    private static final ParsedValues<ContentType> CONTENT_TYPES = new ParsedValues<>(ContentTypes::parse, 256);
    private static final ParsedValues<HttpHeader> HOSTS = new ParsedValues<>(host -> HttpHeader.parse("Host", host), 256);
    /** Methods whose requests carry no body unless they say so: an empty one gets no {@code Content-Length: 0}. */
    private static final Set<String> BODYLESS = Set.of("GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT");

    private PekkoHttp() {
    }

    /**
     * The Netty head of {@code request}: its origin-form target, its headers with {@code Host} set to
     * {@code authority}, its content type, and its framing.
     */
    static io.netty.handler.codec.http.HttpRequest requestHead(HttpRequest request, String authority) {
        io.netty.handler.codec.http.HttpRequest head = new DefaultHttpRequest(HttpVersion.HTTP_1_1,
                io.netty.handler.codec.http.HttpMethod.valueOf(request.method().value()),
                request.getUri().toRelative().toString());
        HttpHeaders headers = head.headers();
        for (HttpHeader header : request.getHeaders()) {
            if (!header.is("host")) {
                headers.add(header.name(), header.value());
            }
        }
        headers.set(HttpHeaderNames.HOST, authority);
        HttpEntity entity = request.entity();
        if (!entity.getContentType().equals(ContentTypes.NO_CONTENT_TYPE)) {
            headers.set(HttpHeaderNames.CONTENT_TYPE, entity.getContentType().toString());
        }
        OptionalLong length = entity.getContentLengthOption();
        if (length.isEmpty() && request.getAttribute(DECLARED_LENGTH).isPresent()) {
            length = OptionalLong.of(request.getAttribute(DECLARED_LENGTH).get());
        }
        if (length.isEmpty()) {
            HttpUtil.setTransferEncodingChunked(head, true);
        } else if (length.getAsLong() > 0 || !BODYLESS.contains(request.method().value())) {
            HttpUtil.setContentLength(head, length.getAsLong());
        }
        return head;
    }

    /** {@code head} as a whole message with no body (over HTTP/2: HEADERS with END_STREAM). */
    static io.netty.handler.codec.http.HttpMessage whole(io.netty.handler.codec.http.HttpMessage head) {
        if (head instanceof io.netty.handler.codec.http.HttpRequest request) {
            return new io.netty.handler.codec.http.DefaultFullHttpRequest(request.protocolVersion(), request.method(),
                    request.uri(), io.netty.buffer.Unpooled.EMPTY_BUFFER, request.headers(),
                    io.netty.handler.codec.http.EmptyHttpHeaders.INSTANCE);
        }
        io.netty.handler.codec.http.HttpResponse response = (io.netty.handler.codec.http.HttpResponse) head;
        return new io.netty.handler.codec.http.DefaultFullHttpResponse(response.protocolVersion(), response.status(),
                io.netty.buffer.Unpooled.EMPTY_BUFFER, response.headers(), io.netty.handler.codec.http.EmptyHttpHeaders.INSTANCE);
    }

    /**
     * The model's response for a Netty response head; {@code body} publishes its bytes (null when it has none). The
     * entity keeps the head's framing: a {@code Content-Length} gives a body of that length (the answer to a HEAD
     * request declares it and carries nothing), chunked or HTTP/2 bodies without a length stay chunked with their
     * trailers, and an HTTP/1.1 body without either is read to the connection's close.
     *
     * @param http2 whether the head came over HTTP/2 (where a body without a length is simply the stream's DATA)
     */
    static HttpResponse response(io.netty.handler.codec.http.HttpResponse head, boolean http2, BodyPublisher body) {
        Converted converted = convert(head.headers(), false, UnderscoreHeaders.ALLOW);
        HttpResponse response = HttpResponse.create().withStatus(status(head.status().code(), head.status().reasonPhrase()))
                .addHeaders(converted.headers());
        long length = declaredLength(head.headers());
        if (http2 && body != null && length > 0) {
            // Trailers may follow the DATA, as for requests.
            return carried(response.addAttribute(DECLARED_LENGTH, length), chunked(converted.contentType(), Source.fromPublisher(body)), body);
        }
        return carried(response, entity(head.headers(), http2, converted.contentType(), body), body);
    }

    /** {@code response} with {@code entity}, marked as {@code body}'s when it has one (see {@link WatchedBody}). */
    private static HttpResponse carried(HttpResponse response, ResponseEntity entity, BodyPublisher body) {
        return body == null ? response.withEntity(entity)
                : response.withEntity(body.carriedAs(entity)).addAttribute(WatchedBody.ATTRIBUTE, body);
    }

    /** {@code request} with {@code entity}, marked as {@code body}'s when it has one (see {@link WatchedBody}). */
    private static HttpRequest carried(HttpRequest request, ResponseEntity entity, BodyPublisher body) {
        RequestEntity requestEntity = (RequestEntity) entity;
        return body == null ? request.withEntity(requestEntity)
                : request.withEntity(body.carriedAs(requestEntity)).addAttribute(WatchedBody.ATTRIBUTE, body);
    }

    /**
     * Streams the body of {@code message} to {@code writer}: straight from the channel it arrives on when it is still
     * the body that arrived there (every stage watched it where it is read, none replaced it), else through a stream.
     */
    static void send(HttpMessage message, BodyWriter writer, Materializer materializer) {
        HttpEntity entity = message.entity();
        if (message.getAttribute(WatchedBody.ATTRIBUTE).orElse(null) instanceof BodyPublisher body && body.is(entity)
                && body.relayTo(writer, entity instanceof HttpEntity.Chunked)) {
            return;
        }
        parts(entity).runWith(Sink.fromSubscriber(writer), materializer);
    }

    /**
     * A Netty head's headers as the model holds them: the content type apart, a request's authority ({@code Host} or
     * {@code :authority}) apart, and no framing or HTTP/2 bookkeeping headers. The others are kept as raw headers, by
     * name and verbatim: the stages read them by name, and parsing each into the model's typed header (a date parser
     * for every response's {@code Date}) cost a parse per header per hop and could re-render a value differently.
     *
     * @param request whether these are a request's (a content type the model cannot parse then refuses it; in a
     *     response it is dropped, as Pekko's own client does)
     * @throws IllegalArgumentException for a request whose content type cannot be parsed
     */
    private static Converted convert(HttpHeaders in, boolean request, UnderscoreHeaders underscores) {
        List<HttpHeader> headers = new ArrayList<>();
        ContentType contentType = ContentTypes.NO_CONTENT_TYPE;
        String authority = null;
        for (Map.Entry<String, String> header : in) {
            String name = header.getKey().toLowerCase(Locale.ROOT);
            if (name.equals("content-type")) {
                try {
                    contentType = CONTENT_TYPES.parse(header.getValue());
                } catch (RuntimeException unparsable) {
                    if (request) {
                        throw new IllegalArgumentException("Content-Type '" + header.getValue() + "' cannot be parsed");
                    }
                }
            } else if (request && underscores != UnderscoreHeaders.ALLOW && name.indexOf('_') >= 0) {
                if (underscores == UnderscoreHeaders.REJECT) {
                    throw new IllegalArgumentException("header '" + header.getKey() + "' has an underscore in its name");
                }
            } else if (request && (name.equals(":authority") || name.equals("host"))) {
                authority = header.getValue();
            } else if (!NOT_HEADERS.contains(name) && !name.startsWith(":")) {
                headers.add(RawHeader.create(header.getKey(), header.getValue()));
            }
        }
        return new Converted(headers, contentType, authority);
    }

    /** What {@link #convert} makes of a head's headers; {@code authority} is null when there is none. */
    private record Converted(List<HttpHeader> headers, ContentType contentType, String authority) {
    }

    /** The data of {@code parts}, without the last part's trailers (an entity of known length cannot carry them). */
    private static Source<ByteString, ?> data(Source<HttpEntity.ChunkStreamPart, ?> parts) {
        return parts.filter(part -> !part.isLastChunk()).map(HttpEntity.ChunkStreamPart::data);
    }

    /** The head's {@code Content-Length}, or -1 when it has none (or one that is not a number). */
    private static long declaredLength(HttpHeaders headers) {
        String declared = headers.get(HttpHeaderNames.CONTENT_LENGTH);
        return declared == null ? -1 : parseLength(declared);
    }

    private static ResponseEntity entity(HttpHeaders headers, boolean http2, ContentType contentType, BodyPublisher body) {
        long length = declaredLength(headers);
        if (body == null) {
            // No body follows: an answer to HEAD declares the length it would have had.
            return length > 0 ? HttpEntities.create(contentType, length, Source.<ByteString>empty())
                    : (ResponseEntity) HttpEntities.create(contentType, ByteString.emptyByteString());
        }
        Source<HttpEntity.ChunkStreamPart, ?> parts = Source.fromPublisher(body);
        if (length >= 0) {
            return HttpEntities.create(contentType, length, data(parts));
        }
        if (http2 || headers.contains(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED, true)) {
            return chunked(contentType, parts);
        }
        return HttpEntities.createCloseDelimited(contentType, parts.map(HttpEntity.ChunkStreamPart::data));
    }

    /** A chunked entity of {@code parts}, whose last part may carry trailers. */
    @SuppressWarnings("unchecked")
    static ResponseEntity chunked(ContentType contentType, Source<HttpEntity.ChunkStreamPart, ?> parts) {
        org.apache.pekko.stream.scaladsl.Source<org.apache.pekko.http.scaladsl.model.HttpEntity.ChunkStreamPart, Object> scala =
                (org.apache.pekko.stream.scaladsl.Source<org.apache.pekko.http.scaladsl.model.HttpEntity.ChunkStreamPart, Object>)
                        (org.apache.pekko.stream.scaladsl.Source<?, ?>) parts.asScala();
        return new org.apache.pekko.http.scaladsl.model.HttpEntity.Chunked(
                (org.apache.pekko.http.scaladsl.model.ContentType) contentType, scala);
    }

    /** The body of {@code entity} as parts: its data chunks, then its trailers when it is chunked and has any. */
    static Source<HttpEntity.ChunkStreamPart, ?> parts(HttpEntity entity) {
        if (entity instanceof HttpEntity.Chunked chunked) {
            return chunked.getChunks();
        }
        return entity.getDataBytes().filter(bytes -> !bytes.isEmpty()).map(HttpEntity.ChunkStreamPart::create);
    }

    /**
     * How a connection arrived at a server, for the requests' attributes.
     *
     * @param tls the TLS session, or null for plaintext
     * @param service the local service, named in error bodies
     * @param underscores what to do with request headers whose names have an underscore
     */
    record Origin(javax.net.ssl.SSLSession tls, String service, UnderscoreHeaders underscores) {
    }

    /** True when a request with {@code head} has a body to read. */
    static boolean requestHasBody(io.netty.handler.codec.http.HttpRequest head, boolean http2) {
        if (head instanceof io.netty.handler.codec.http.FullHttpRequest full) {
            return full.content().isReadable();
        }
        if (head.method().equals(io.netty.handler.codec.http.HttpMethod.HEAD)
                || head.method().equals(io.netty.handler.codec.http.HttpMethod.TRACE)) {
            // Methods whose requests may not carry a body: anything sent is read and dropped.
            return false;
        }
        if (HttpUtil.isTransferEncodingChunked(head)) {
            return true;
        }
        String length = head.headers().get(HttpHeaderNames.CONTENT_LENGTH);
        if (length != null) {
            return parseLength(length) != 0;
        }
        // HTTP/1.1: no length and not chunked is no body; an HTTP/2 stream not ended by its HEADERS has DATA.
        return http2;
    }

    /**
     * The model's request for a Netty request head: the target as sent, the headers, the framing as the entity
     * ({@code Content-Length} kept, chunked or HTTP/2 without a length chunked, with trailers; over HTTP/2 a length
     * and trailers both, the length as {@link #DECLARED_LENGTH}), and the TLS session.
     *
     * @param body publishes the body (null when there is none)
     * @throws IllegalArgumentException when the model cannot hold the target or a header
     */
    static HttpRequest request(io.netty.handler.codec.http.HttpRequest head, boolean http2, Origin origin, BodyPublisher body) {
        HttpRequest request = HttpRequest.create()
                .withMethod(org.apache.pekko.http.javadsl.model.HttpMethods.lookup(head.method().name())
                        .orElseGet(() -> org.apache.pekko.http.javadsl.model.HttpMethods.custom(head.method().name(), false, true,
                                org.apache.pekko.http.javadsl.model.RequestEntityAcceptances.Tolerated)))
                .withUri(target(head))
                .withProtocol(http2 ? (org.apache.pekko.http.javadsl.model.HttpProtocol)
                        org.apache.pekko.http.scaladsl.model.HttpProtocols.HTTP$div2$u002E0()
                        : org.apache.pekko.http.javadsl.model.HttpProtocols.HTTP_1_1);
        Converted converted = convert(head.headers(), true, origin.underscores());
        request = request.addHeaders(converted.headers());
        if (converted.authority() != null) {
            request = request.addHeader(HOSTS.parse(converted.authority()));
        }
        if (origin.tls() != null) {
            request = request.addAttribute(org.apache.pekko.http.javadsl.model.AttributeKeys.sslSession,
                    org.apache.pekko.http.scaladsl.model.SslSessionInfo.apply(origin.tls()));
        }
        long length = declaredLength(head.headers());
        if (http2 && body != null && length > 0) {
            // Trailers may follow the DATA: the body stays chunked, and its length goes on beside it.
            return carried(request.addAttribute(DECLARED_LENGTH, length), chunked(converted.contentType(), Source.fromPublisher(body)), body);
        }
        return carried(request, requestEntity(head, length, converted.contentType(), body), body);
    }

    /**
     * The request target as the model holds it. A {@code CONNECT}'s authority-form target ({@code host:port}) becomes
     * a reference with just that authority, so the pipeline can refuse it by name.
     *
     * @throws IllegalArgumentException when the model cannot hold the target
     */
    private static org.apache.pekko.http.javadsl.model.Uri target(io.netty.handler.codec.http.HttpRequest head) {
        String target = head.uri();
        try {
            if (head.method().equals(io.netty.handler.codec.http.HttpMethod.CONNECT) && !target.startsWith("/")) {
                return org.apache.pekko.http.javadsl.model.Uri.create("//" + target);
            }
            if (target.startsWith("//")) {
                // An origin-form path whose first segments are empty ("//admin"), not a network-path reference (parsed
                // as one, "admin" would become the destination host), and one the model cannot hold: its leading
                // slashes are merged, as the receiving sidecar's path normalisation merges every repeated slash.
                int first = 0;
                while (first < target.length() && target.charAt(first) == '/') {
                    first++;
                }
                return org.apache.pekko.http.javadsl.model.Uri.create("/" + target.substring(first));
            }
            return org.apache.pekko.http.javadsl.model.Uri.create(target);
        } catch (RuntimeException unparsable) {
            // Pekko's IllegalUriException is not an IllegalArgumentException.
            throw new IllegalArgumentException("the request target cannot be parsed: " + unparsable.getMessage(), unparsable);
        }
    }

    /** {@code length}: the head's {@code Content-Length}, or -1. */
    private static ResponseEntity requestEntity(io.netty.handler.codec.http.HttpRequest head, long length,
            ContentType contentType, BodyPublisher body) {
        if (body == null) {
            return HttpEntities.create(contentType, ByteString.emptyByteString());
        }
        Source<HttpEntity.ChunkStreamPart, ?> parts = Source.fromPublisher(body);
        if (length > 0 && !HttpUtil.isTransferEncodingChunked(head)) {
            return HttpEntities.create(contentType, length, data(parts));
        }
        return chunked(contentType, parts);
    }

    /**
     * The Netty head of {@code response}: status, headers, content type and framing: a known length is a
     * {@code Content-Length} (also for the answer to HEAD), an unknown one chunked on HTTP/1.1 (the trailers follow
     * the last chunk) and plain DATA on HTTP/2.
     */
    static io.netty.handler.codec.http.HttpResponse responseHead(HttpResponse response, boolean http2, boolean headRequest) {
        io.netty.handler.codec.http.HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1,
                HttpResponseStatus.valueOf(response.status().intValue(), response.status().reason()));
        HttpHeaders headers = head.headers();
        for (HttpHeader header : response.getHeaders()) {
            headers.add(header.name(), header.value());
        }
        HttpEntity entity = response.entity();
        if (!entity.getContentType().equals(ContentTypes.NO_CONTENT_TYPE)) {
            headers.set(HttpHeaderNames.CONTENT_TYPE, entity.getContentType().toString());
        }
        int status = response.status().intValue();
        if (status == 204 || status == 304 || status < 200) {
            return head;
        }
        OptionalLong length = entity.getContentLengthOption();
        if (length.isEmpty() && response.getAttribute(DECLARED_LENGTH).isPresent()) {
            length = OptionalLong.of(response.getAttribute(DECLARED_LENGTH).get());
        }
        if (length.isPresent()) {
            HttpUtil.setContentLength(head, length.getAsLong());
        } else if (!http2 && !headRequest) {
            HttpUtil.setTransferEncodingChunked(head, true);
        }
        return head;
    }

    private static long parseLength(String value) {
        try {
            return Long.parseLong(value.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static StatusCode status(int code, String reason) {
        try {
            return StatusCodes.get(code);
        } catch (RuntimeException unknown) {
            return StatusCodes.custom(code, reason, "", code >= 200 && code < 400, true);
        }
    }
}
