package io.trellis.sidecar.transport.netty;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.ReferenceCountUtil;
import io.trellis.sidecar.errors.Causes;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.transport.Upgrades;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.stream.Materializer;

/**
 * One request and its response on a channel that speaks Netty's HTTP objects: a keep-alive HTTP/1.1 connection
 * ({@code HttpClientCodec}) or one HTTP/2 stream ({@code Http2StreamFrameToHttpObjectCodec}). The request's head
 * goes first, its body streams after it with backpressure, the response's head completes {@link #response()} and
 * its body is read as the caller reads it. Failures are typed: a reset or close before the response head is
 * {@code upstream-reset} (a {@code REFUSED_STREAM} says so, for retries), a failure after it fails the body. The
 * exchange ends when the request was written and the response read to its end ({@code onDone}, so an HTTP/1.1
 * connection can carry the next one), or when it is abandoned ({@link #abandon}: the caller went away, the
 * connection is closed or the stream reset, so the peer sees it at once; a caller that went away is
 * {@code client-aborted}). An HTTP/1.1 request marked as an upgrade ({@link Upgrades}) is sent as the app's upgrade
 * request; a {@code 101} turns the connection into a byte relay, whose connection is never reused. Lives on the
 * channel's event loop.
 */
final class ClientExchange extends ChannelInboundHandlerAdapter {
    private final HttpRequest request;
    private final String authority;
    private final String peer;
    private final boolean http2;
    private final Materializer materializer;
    private final Runnable onDone;
    private final Runnable abort;
    private final CompletableFuture<HttpResponse> response = new CompletableFuture<>();
    private Channel channel;
    private BodyPublisher body;
    private BodyWriter writer;
    private boolean requestWritten;
    private boolean responseEnded;
    private boolean over;
    /** The protocol an HTTP/1.1 upgrade asks for (the request carries {@link Upgrades#MARKER}); null otherwise. */
    private final String upgrade;
    /** True once the app answered the upgrade with 101: the connection carries raw bytes both ways. */
    private boolean upgraded;

    /**
     * @param authority the {@code Host} (HTTP/1.1) or {@code :authority} (HTTP/2) to send
     * @param peer how the peer is named in errors
     * @param onDone runs once the exchange ended normally both ways
     * @param abort ends the exchange early: closes the connection (HTTP/1.1) or resets the stream (HTTP/2)
     */
    ClientExchange(HttpRequest request, String authority, String peer, boolean http2, Materializer materializer,
            Runnable onDone, Runnable abort) {
        this.request = request;
        this.authority = authority;
        this.peer = peer;
        this.http2 = http2;
        this.materializer = materializer;
        this.upgrade = http2 ? null : Upgrades.marked(request).orElse(null);
        // An upgraded (or refused) upgrade's connection is never reused.
        this.onDone = upgrade == null ? onDone : abort;
        this.abort = abort;
    }

    /** The response, once its head arrived. */
    CompletionStage<HttpResponse> response() {
        return response;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        channel = ctx.channel();
        io.netty.handler.codec.http.HttpRequest head = PekkoHttp.requestHead(request, authority);
        boolean bodyless = request.entity().isKnownEmpty() || upgrade != null;
        if (upgrade != null) {
            // The head alone; the body is the client's bytes once the app switched protocols.
            head.headers().remove(Upgrades.MARKER).remove(HttpHeaderNames.TRANSFER_ENCODING).remove(HttpHeaderNames.CONTENT_LENGTH)
                    .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE).set(HttpHeaderNames.UPGRADE, upgrade);
        }
        // A request without a body goes as one message (over HTTP/2: HEADERS that end the stream).
        channel.writeAndFlush(bodyless ? PekkoHttp.whole(head) : head).addListener(f -> {
            if (!f.isSuccess()) {
                failed(f.cause());
            } else if (!response.isDone()) {
                // An HTTP/2 stream exists once its HEADERS are written: a read asked for before may not have counted.
                channel.read();
            }
        });
        writer = new BodyWriter(channel, () -> {
            requestWritten = true;
            finishIfDone();
        }, this::failed);
        if (bodyless) {
            requestWritten = true;
        } else {
            PekkoHttp.send(request, writer, materializer);
        }
        channel.read();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (msg instanceof ByteBuf bytes && upgraded) {
                body.data(bytes);
                return;
            }
            if (msg instanceof io.netty.handler.codec.http.HttpResponse head) {
                if (!http2) {
                    // Only this sidecar marks an upgrade; an app cannot speak for it.
                    head.headers().remove(Upgrades.MARKER);
                }
                if (upgrade != null && head.status().code() == HttpResponseStatus.SWITCHING_PROTOCOLS.code()) {
                    switched(head);
                    return;
                }
                if (head.status().codeClass() == io.netty.handler.codec.http.HttpStatusClass.INFORMATIONAL) {
                    return;
                }
                boolean empty = request.method().value().equals("HEAD") || head.status().code() == 204
                        || head.status().code() == 304 || "0".equals(head.headers().get("content-length"));
                body = empty ? null : new BodyPublisher(channel, this::abandonNow);
                response.complete(PekkoHttp.response(head, http2, body));
            }
            if (msg instanceof HttpContent content && upgraded) {
                // The end of the 101's (empty) message; the connection speaks the new protocol from here.
                if (content instanceof LastHttpContent) {
                    channel.pipeline().remove(HttpClientCodec.class);
                }
                return;
            }
            if (msg instanceof HttpContent content) {
                if (body != null) {
                    body.data(content.content());
                }
                if (content instanceof LastHttpContent last) {
                    if (body != null) {
                        body.end(last.trailingHeaders());
                    }
                    responseEnded = true;
                    finishIfDone();
                }
            }
            if (msg instanceof Http2ResetFrame reset) {
                failed(new ProxyException(ProxyError.UPSTREAM_RESET, peer + " reset the stream (RST_STREAM "
                        + Http2Error.valueOf(reset.errorCode()) + ")"));
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        // Until the head, for a body nobody reads (none is expected), and while the body's buffer has room.
        if (!over && (!response.isDone() || body == null && !responseEnded || body != null && body.wantsMore())) {
            ctx.read();
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        writer.writabilityChanged();
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (upgraded && !over) {
            // The app closed the upgraded connection: the end of its bytes, not a failure.
            responseEnded = true;
            body.end(io.netty.handler.codec.http.EmptyHttpHeaders.INSTANCE);
            if (!requestWritten) {
                writer.cancel();
                requestWritten = true;
            }
            finishIfDone();
        } else {
            failed(null);
        }
        ctx.fireChannelInactive();
    }

    /**
     * The app switched protocols: the response is a {@code 200} marked with {@link Upgrades#MARKER} whose body is the
     * app's bytes until it closes, and the client's bytes are written to the app as they come; when they end, the
     * connection is half-closed so the app sees the end too.
     */
    private void switched(io.netty.handler.codec.http.HttpResponse head) {
        upgraded = true;
        String protocol = head.headers().get(HttpHeaderNames.UPGRADE, upgrade);
        body = new BodyPublisher(channel, this::abandonNow);
        // The model holds no body on a 101: the switch travels as a 200 with the mark.
        head.setStatus(HttpResponseStatus.OK);
        response.complete(PekkoHttp.response(head, false, body).addHeader(RawHeader.create(Upgrades.MARKER, protocol)));
        requestWritten = false;
        writer = new BodyWriter(channel, () -> {
            requestWritten = true;
            if (channel instanceof io.netty.channel.socket.SocketChannel socket && !responseEnded) {
                socket.shutdownOutput();
            }
            finishIfDone();
        }, this::failed, true);
        PekkoHttp.send(request, writer, materializer);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        failed(cause);
    }

    /** The caller went away: end the exchange now, so the peer sees it. Any thread. */
    void abandon() {
        channel.eventLoop().execute(this::abandonNow);
    }

    private void abandonNow() {
        if (over) {
            return;
        }
        over = true;
        if (writer != null) {
            writer.cancel();
        }
        if (!response.isDone()) {
            response.completeExceptionally(new ProxyException(ProxyError.CLIENT_ABORTED, "the caller went away before "
                    + peer + " answered"));
        }
        if (body != null) {
            body.fail(new ProxyException(ProxyError.CLIENT_ABORTED, "the caller went away while " + peer + " answered"));
        }
        abort.run();
    }

    private void failed(Throwable cause) {
        if (over) {
            return;
        }
        if (responseEnded && requestWritten) {
            return;
        }
        if (responseEnded && !requestWritten) {
            // The peer answered in full before it took the whole request, then ended the stream: the exchange is
            // complete, the rest of the body is not needed (but is read to its end, so a retry could replay it).
            over = true;
            writer.discardRest();
            onDone.run();
            return;
        }
        over = true;
        ProxyException error = cause instanceof ProxyException proxy ? proxy : Causes.upstreamFailure(peer, cause, false);
        if (writer != null) {
            writer.cancel();
        }
        if (!response.isDone()) {
            response.completeExceptionally(error);
        } else if (body != null) {
            body.fail(error);
        }
        abort.run();
    }

    private void finishIfDone() {
        if (!over && requestWritten && responseEnded) {
            over = true;
            onDone.run();
        }
    }
}
