package io.trellis.sidecar.transport.netty;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Any bytes on an HTTP/1.1 listener, read as the listener reads them (Netty's decoder with the listener's settings,
 * then {@link Http1Framing#refusal}): every request head that is not refused is framed one way only (no
 * {@code Transfer-Encoding} but a single {@code chunked}, never beside {@code Content-Length}), has no CR, LF or NUL
 * in a name or value, at most {@link Http1Framing#MAX_HEADERS} fields, and a body of exactly its
 * {@code Content-Length}; reading stops at the first refused head or body, as the listener closes the connection there
 * (the first run found that a body whose chunk framing broke was taken for complete). Seeds in
 * {@code src/test/resources/io/trellis/sidecar/transport/netty/Http1FramingFuzzTestInputs}.
 */
class Http1FramingFuzzTest {
    @FuzzTest(maxDuration = "20s")
    void everyAcceptedRequestIsFramedOneWayOnly(byte[] input) {
        EmbeddedChannel channel = new EmbeddedChannel(new HttpServerCodec(Http1Framing.decoderConfig(8 * 1024)));
        try {
            channel.writeInbound(Unpooled.wrappedBuffer(input));
            Object message;
            HttpRequest current = null;
            long expected = -1;
            long received = 0;
            while ((message = channel.readInbound()) != null) {
                try {
                    if (message instanceof HttpRequest head) {
                        if (Http1Framing.refusal(head).isPresent()) {
                            return;
                        }
                        current = head;
                        expected = acceptedHeadFraming(head);
                        received = 0;
                    }
                    if (message instanceof HttpContent content && content.decoderResult().isFailure()) {
                        // A body the decoder could not frame: refused (ServerExchange.malformedBody), reading stops.
                        return;
                    }
                    if (message instanceof HttpContent content && current != null) {
                        received += content.content().readableBytes();
                        if (content instanceof LastHttpContent && expected >= 0) {
                            assertThat(received).as("body bytes of a request with Content-Length").isEqualTo(expected);
                        }
                    }
                } finally {
                    ReferenceCountUtil.release(message);
                }
            }
        } finally {
            channel.finishAndReleaseAll();
        }
    }

    /** Checks an accepted head; its Content-Length, or -1 when it has none. */
    private static long acceptedHeadFraming(HttpRequest head) {
        List<String> codings = head.headers().getAll(HttpHeaderNames.TRANSFER_ENCODING);
        List<String> lengths = head.headers().getAll(HttpHeaderNames.CONTENT_LENGTH);
        assertThat(head.headers().size()).isLessThanOrEqualTo(Http1Framing.MAX_HEADERS);
        for (Map.Entry<String, String> header : head.headers()) {
            assertThat(header.getKey()).doesNotContain("\r", "\n", "\0", ":").isNotBlank();
            assertThat(header.getValue()).doesNotContain("\r", "\n", "\0");
        }
        if (!codings.isEmpty()) {
            assertThat(codings).hasSize(1);
            assertThat(codings.get(0).strip().toLowerCase(Locale.ROOT)).isEqualTo("chunked");
            assertThat(lengths).as("Transfer-Encoding beside Content-Length").isEmpty();
            return -1;
        }
        if (lengths.isEmpty()) {
            return -1;
        }
        assertThat(lengths).hasSize(1);
        return Long.parseLong(lengths.get(0).strip());
    }
}
