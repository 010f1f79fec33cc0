package io.trellis.sidecar.transport.netty;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.ReferenceCountUtil;
import io.trellis.sidecar.errors.ErrorResponses;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.transport.Upgrades;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.stream.Materializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server side of exchanges on a channel that speaks Netty's HTTP objects: one HTTP/2 stream
 * ({@code Http2StreamFrameToHttpObjectCodec}) or a keep-alive HTTP/1.1 connection ({@code HttpServerCodec}), where it
 * serves one request at a time in order. Each request head becomes the pipeline's request (its body streamed to the
 * pipeline on demand), the pipeline's response is written back with its framing and trailers, its body with
 * backpressure. The caller going away (its stream reset, its connection closed) before the response ended
 * completes the request's {@code abandoned} signal, so the pipeline drops the work it started for it. Over HTTP/1.1,
 * heads beyond the limits or framed ambiguously are refused ({@link Http1Framing}), requests that arrive before the
 * previous answer ended are held and answered in order, and an upgrade request ({@link Upgrades}) that the far side
 * accepts turns the connection into a byte relay after its {@code 101}. Lives on the
 * channel's event loop.
 */
final class ServerExchange extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(ServerExchange.class);
    /** How long a closing HTTP/1.1 connection drops what its caller still sends before it closes. */
    private static final java.time.Duration LINGER = java.time.Duration.ofSeconds(2);

    private final boolean http2;
    private final PekkoHttp.Origin origin;
    private final RequestHandler handler;
    private final Materializer materializer;
    private final Runnable onExchange;
    private final Runnable onIdle;
    private final ListenerLimits limits;
    private final RequestHeadTimer headTimer;
    private final PrematureResets resets;
    private ChannelHandlerContext context;
    private Channel channel;
    private Current current;
    /**
     * HTTP/1.1 messages of the next requests, read while the current exchange is still answering (pipelining, or a
     * client that sends its next request the moment it has the response, before the write completed here): held in
     * order, and handled once the current exchange ended. Reading pauses while any are held, so they are at most one
     * read's worth.
     */
    private final java.util.ArrayDeque<Object> held = new java.util.ArrayDeque<>();
    /** The answer is out and the connection closing: what the caller still sends is dropped ({@link #closeLingering}). */
    private boolean lingering;

    /**
     * @param origin how the requests arrived (TLS session, peer address), for the request's attributes
     * @param onExchange runs when an exchange starts (drain counting), {@code onIdle} when it ends
     * @param limits the listener's bounds, told of the HTTP/1.1 heads refused
     * @param headTimer the HTTP/1.1 connection's request-head bound, told when heads arrive and exchanges end; null over
     *     HTTP/2
     * @param resets the HTTP/2 connection's premature-reset bound, told of each stream and each reset; null over HTTP/1.1
     */
    ServerExchange(boolean http2, PekkoHttp.Origin origin, RequestHandler handler, Materializer materializer, Runnable onExchange,
            Runnable onIdle, ListenerLimits limits, RequestHeadTimer headTimer, PrematureResets resets) {
        this.http2 = http2;
        this.origin = origin;
        this.handler = handler;
        this.materializer = materializer;
        this.onExchange = onExchange;
        this.onIdle = onIdle;
        this.limits = limits;
        this.headTimer = headTimer;
        this.resets = resets;
    }

    /** One request and its response. */
    private final class Current {
        final CompletableFuture<Void> abandoned = new CompletableFuture<>();
        final BodyPublisher requestBody;
        final boolean keepAlive;
        final boolean head;
        /** The protocol an HTTP/1.1 upgrade request asks for; null when it asks for none. */
        final String upgrade;
        final long startNanos = System.nanoTime();
        BodyWriter writer;
        boolean responseStarted;
        /** The head was refused (its answer is the refusal): what the decoder makes of the rest does not matter. */
        boolean refused;
        boolean requestEnded;
        boolean responseWritten;

        Current(BodyPublisher requestBody, boolean keepAlive, boolean head, String upgrade) {
            this.requestBody = requestBody;
            this.keepAlive = keepAlive;
            this.head = head;
            this.upgrade = upgrade;
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        context = ctx;
        channel = ctx.channel();
        channel.read();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (lingering) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (!http2 && msg instanceof io.netty.handler.codec.http.HttpObject
                && (!held.isEmpty() || awaitingAnswer())) {
            held.add(msg);
            return;
        }
        handle(ctx, msg);
    }

    private void handle(ChannelHandlerContext ctx, Object msg) {
        try {
            if (msg instanceof io.netty.handler.codec.http.HttpRequest head) {
                start(head);
            }
            if (msg instanceof ByteBuf bytes && current != null && current.upgrade != null) {
                // An upgrade's bytes, once the HTTP/1.1 decoder is gone.
                current.requestBody.data(bytes);
            }
            if (msg instanceof HttpContent content && current != null && current.upgrade != null) {
                // The upgrade request's head is all its HTTP: what follows is the new protocol's, read raw.
                if (content instanceof LastHttpContent) {
                    ctx.pipeline().get(HttpServerCodec.class).removeInboundHandler();
                }
                return;
            }
            if (msg instanceof HttpContent content && current != null && content.decoderResult().isFailure()) {
                if (!current.refused) {
                    malformedBody(current, content.decoderResult().cause());
                }
                return;
            }
            if (msg instanceof HttpContent content && current != null) {
                if (current.requestBody != null) {
                    current.requestBody.data(content.content());
                }
                if (content instanceof LastHttpContent last) {
                    if (current.requestBody != null) {
                        current.requestBody.end(last.trailingHeaders());
                    }
                    current.requestEnded = true;
                    finishIfDone();
                }
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        // Between requests, while a request's body nobody reads (none was declared) is still to end, while the
        // body's buffer has room, and over HTTP/1.1 while the answer is awaited: what arrives then is the next
        // request, held (and reading paused) until this one is answered. Reading on keeps the connection's read
        // interest armed, where pausing it and asking again cost two epoll_ctl calls per request.
        if (held.isEmpty() && (current == null || current.requestBody == null && !current.requestEnded
                || current.requestBody != null && current.requestBody.wantsMore()
                || !http2 && awaitingAnswer())) {
            ctx.read();
        }
        ctx.fireChannelReadComplete();
    }

    /** The current request was read to its end and its answer is not out yet (an upgrade's bytes flow on instead). */
    private boolean awaitingAnswer() {
        return current != null && current.requestEnded && current.upgrade == null;
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (current != null && current.writer != null) {
            current.writer.writabilityChanged();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
        // The stream multiplexer hands a stream its RST_STREAM as an event, not a read.
        if (event instanceof Http2ResetFrame) {
            if (current != null && resets != null) {
                resets.reset(current.startNanos, System.nanoTime());
            }
            abandon();
        }
        ctx.fireUserEventTriggered(event);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        held.forEach(ReferenceCountUtil::release);
        held.clear();
        abandon();
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.debug("HTTP exchange on {} failed: {}", ctx.channel(), cause.toString());
        if (http2 && malformed(cause)) {
            // A malformed request (RFC 9113 section 8.1.1: a value with CR, LF or NUL, :authority and host that
            // disagree, DATA that does not add up to its content-length, a missing pseudo-header) is its stream's
            // PROTOCOL_ERROR, never its connection's.
            limits.hit(Limit.MALFORMED_HTTP2);
            ctx.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2ResetFrame(
                    io.netty.handler.codec.http2.Http2Error.PROTOCOL_ERROR));
        }
        abandon();
        ctx.close();
    }

    /** True for what Netty's codecs raise for a malformed HTTP/2 request (its frames or their conversion). */
    private static boolean malformed(Throwable cause) {
        return cause instanceof io.netty.handler.codec.http2.Http2Exception.StreamException
                || cause instanceof io.netty.handler.codec.DecoderException;
    }

    private void start(io.netty.handler.codec.http.HttpRequest head) {
        if (headTimer != null) {
            headTimer.headArrived();
        }
        if (current != null) {
            // HTTP/1.1 pipelining beyond one request in flight is not read (reading pauses), so this cannot happen.
            channel.close();
            return;
        }
        String upgrade = http2 || head.decoderResult().isFailure() ? null : Upgrades.requested(
                head.headers().get(HttpHeaderNames.CONNECTION), head.headers().get(HttpHeaderNames.UPGRADE)).orElse(null);
        boolean hasBody = upgrade != null || PekkoHttp.requestHasBody(head, http2);
        // The pipeline giving up on the body (its idle bound passed, the far side stopped reading it) is not the caller
        // going away: the caller is still answered, and what it still sends is dropped.
        BodyPublisher body = hasBody ? new BodyPublisher(channel,
                () -> LOG.debug("the request body on {} is no longer read", channel)) : null;
        // HTTP/1.1 heads the decoder refused, beyond the limits, or framed ambiguously (request smuggling): refused,
        // and the connection closes after the answer.
        Optional<ProxyException> refused = http2 ? Optional.empty() : Http1Framing.refusal(head);
        current = new Current(body, (http2 || HttpUtil.isKeepAlive(head)) && refused.isEmpty(),
                head.method().name().equals("HEAD"), upgrade);
        onExchange.run();
        if (resets != null) {
            resets.opened();
        }
        Current exchange = current;
        if (refused.isPresent()) {
            exchange.refused = true;
            LOG.info("refusing a request from {}: {}", channel.remoteAddress(), refused.get().getMessage());
            limits.hit(Http1Framing.limit(refused.get().error()));
            respond(exchange, ErrorResponses.respond(HttpRequest.create(), refused.get(), origin.service(), ""));
            return;
        }
        HttpRequest request;
        try {
            request = PekkoHttp.request(head, http2, origin, body);
            if (!fromSidecar()) {
                // Only a sidecar marks an upgrade (the calling one, over HTTP/2 and mTLS; this one, from a real
                // HTTP/1.1 upgrade): an app or a plaintext caller cannot forge it.
                request = request.removeHeader(Upgrades.MARKER);
                if (upgrade != null) {
                    request = request.addHeader(RawHeader.create(Upgrades.MARKER, upgrade));
                }
            }
        } catch (RuntimeException malformed) {
            // A target or header the model cannot hold: answered as the table's bad-request.
            LOG.info("refusing a malformed request from {}: {}", channel.remoteAddress(), malformed.getMessage());
            respond(exchange, ErrorResponses.respond(HttpRequest.create(), new ProxyException(ProxyError.BAD_REQUEST,
                    "malformed request: " + malformed.getMessage()), origin.service(), ""));
            return;
        }
        handler.handle(request, origin.service(), exchange.abandoned).whenComplete((response, error) -> channel.eventLoop().execute(() -> {
            if (error != null) {
                LOG.warn("the pipeline failed without a response: {}", error.toString());
                channel.close();
                return;
            }
            respond(exchange, response);
        }));
    }

    private void respond(Current exchange, HttpResponse response) {
        if (exchange != current || exchange.abandoned.isDone()) {
            response.discardEntityBytes(materializer);
            return;
        }
        write(exchange, response);
    }

    /**
     * An HTTP/1.1 request body the decoder could not frame (a chunk size that is not hex, a chunk not followed by
     * CRLF): Netty reads nothing more from the connection, so what came before must not pass for the whole body. The
     * pipeline drops its work (the app's request is abandoned, never completed), the caller gets {@code bad-request}
     * unless its answer has begun, and the connection closes.
     */
    private void malformedBody(Current exchange, Throwable cause) {
        LOG.info("refusing a request from {}: malformed body: {}", channel.remoteAddress(), cause.getMessage());
        limits.hit(Limit.MALFORMED_HTTP1);
        exchange.abandoned.complete(null);
        if (exchange.requestBody != null) {
            exchange.requestBody.fail(new java.io.IOException("malformed request body: " + cause.getMessage()));
        }
        if (exchange.responseStarted) {
            channel.close();
            return;
        }
        write(exchange, ErrorResponses.respond(HttpRequest.create(), new ProxyException(ProxyError.BAD_REQUEST,
                "malformed request body: " + cause.getMessage()), origin.service(), ""));
    }

    private void write(Current exchange, HttpResponse response) {
        exchange.responseStarted = true;
        if (exchange.upgrade != null && response.status().intValue() == 200 && Upgrades.marked(response).isPresent()) {
            switchProtocols(exchange, response);
            return;
        }
        io.netty.handler.codec.http.HttpResponse head = PekkoHttp.responseHead(response, http2, exchange.head);
        if (!fromSidecar()) {
            // The mark is for a calling sidecar; an app or a plaintext caller never sees it.
            head.headers().remove(Upgrades.MARKER);
        }
        if (!exchange.keepAlive || !exchange.requestEnded && !http2) {
            // An HTTP/1.1 request whose body was not read to its end leaves the connection mid-message.
            head.headers().set(HttpHeaderNames.CONNECTION, "close");
        }
        if (exchange.head || response.entity().isKnownEmpty()) {
            // No body: one message (over HTTP/2: HEADERS that end the stream).
            response.discardEntityBytes(materializer);
            channel.writeAndFlush(PekkoHttp.whole(head)).addListener(written -> {
                if (written.isSuccess()) {
                    exchange.responseWritten = true;
                    finishIfDone();
                } else {
                    channel.close();
                }
            });
            return;
        }
        // Flushed at once: a stream whose first bytes come late (a server stream, a WebSocket) starts now.
        channel.writeAndFlush(head);
        writeBody(exchange, response, false);
    }

    /** Streams {@code response}'s body to the caller with backpressure; {@code raw} after a protocol switch. */
    private void writeBody(Current exchange, HttpResponse response, boolean raw) {
        exchange.writer = new BodyWriter(channel, () -> {
            exchange.responseWritten = true;
            finishIfDone();
        }, cause -> {
            LOG.debug("writing a response on {} failed: {}", channel, cause.toString());
            channel.close();
        }, raw);
        PekkoHttp.send(response, exchange.writer, materializer);
    }

    /**
     * The far side switched protocols: the caller gets its {@code 101} (with the app's headers, such as
     * {@code Sec-WebSocket-Accept}), the HTTP/1.1 codec leaves the connection, and from here the response body is
     * written as raw bytes and the caller's bytes are the request body.
     */
    private void switchProtocols(Current exchange, HttpResponse response) {
        String protocol = Upgrades.marked(response).orElseThrow();
        io.netty.handler.codec.http.HttpResponse head = PekkoHttp.responseHead(response, false, false);
        head.setStatus(io.netty.handler.codec.http.HttpResponseStatus.SWITCHING_PROTOCOLS);
        head.headers().remove(Upgrades.MARKER).remove(HttpHeaderNames.CONTENT_LENGTH).remove(HttpHeaderNames.TRANSFER_ENCODING)
                .remove(HttpHeaderNames.CONTENT_TYPE)
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE).set(HttpHeaderNames.UPGRADE, protocol);
        channel.write(head);
        channel.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
        channel.pipeline().remove(HttpServerCodec.class);
        writeBody(exchange, response, true);
        channel.read();
    }

    /** True when the caller is another sidecar: HTTP/2 over mTLS, the only way sidecars talk to each other. */
    private boolean fromSidecar() {
        return http2 && origin.tls() != null;
    }

    private void finishIfDone() {
        Current exchange = current;
        if (exchange == null || !exchange.responseWritten) {
            return;
        }
        if (http2) {
            // The stream ends with the response; a request body still arriving is not needed: RST_STREAM NO_ERROR
            // tells the caller to stop sending it (RFC 9113 section 8.1), without calling the exchange a failure.
            current = null;
            onIdle.run();
            if (!exchange.requestEnded) {
                channel.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2ResetFrame(
                        io.netty.handler.codec.http2.Http2Error.NO_ERROR)).addListener(ChannelFutureListener.CLOSE);
            } else {
                channel.close();
            }
            return;
        }
        if (!exchange.requestEnded || !exchange.keepAlive) {
            current = null;
            onIdle.run();
            if (exchange.requestBody != null) {
                // Whoever streams the request on (a peer stream) must see it end: it ends with the connection.
                exchange.requestBody.fail(new java.io.IOException("the response ended before the request"));
            }
            if (exchange.requestEnded) {
                channel.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            } else {
                closeLingering();
            }
            return;
        }
        current = null;
        onIdle.run();
        if (headTimer != null) {
            headTimer.exchangeEnded();
        }
        // The held messages of the next request, up to its end; any after that wait for its answer.
        while (!held.isEmpty() && (current == null || !current.requestEnded)) {
            handle(context, held.poll());
        }
        if (held.isEmpty() && (current == null || !current.requestEnded)) {
            channel.read();
        }
    }

    /**
     * Closes a connection whose caller is still sending (a refused head, a body not read to its end) the way nginx's
     * lingering close does: the answer is sent and the sending side shut, then what the caller still sends is read and
     * dropped for at most {@link #LINGER}, so that closing with unread bytes does not make the kernel reset the
     * connection and throw away the answer before the caller read it.
     */
    private void closeLingering() {
        lingering = true;
        held.forEach(ReferenceCountUtil::release);
        held.clear();
        if (!(channel instanceof io.netty.channel.socket.DuplexChannel duplex)) {
            channel.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        channel.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER).addListener(written -> {
            if (!written.isSuccess()) {
                channel.close();
                return;
            }
            duplex.shutdownOutput();
            channel.eventLoop().schedule((Runnable) channel::close, LINGER.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            channel.config().setAutoRead(true);
        });
    }

    /** The caller went away before its response ended. */
    private void abandon() {
        Current exchange = current;
        if (exchange == null) {
            return;
        }
        current = null;
        exchange.abandoned.complete(null);
        if (exchange.requestBody != null) {
            exchange.requestBody.fail(new java.io.IOException("the caller went away"));
        }
        if (exchange.writer != null) {
            exchange.writer.cancel();
        }
        onIdle.run();
        channel.close();
    }
}
