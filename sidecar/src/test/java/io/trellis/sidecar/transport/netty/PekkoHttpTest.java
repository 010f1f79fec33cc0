package io.trellis.sidecar.transport.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.Test;

class PekkoHttpTest {
    @Test
    void aKnownLengthIsSentAsContentLengthAndAnUnknownOneChunked() {
        HttpRequest known = HttpRequest.POST("/upload").withEntity(HttpEntities.create(ContentTypes.APPLICATION_OCTET_STREAM,
                1000, Source.single(ByteString.fromArray(new byte[1000]))));
        HttpRequest unknown = HttpRequest.POST("/upload").withEntity(HttpEntities.createChunked(
                ContentTypes.APPLICATION_OCTET_STREAM, Source.single(ByteString.fromString("x"))));

        var knownHead = PekkoHttp.requestHead(known, "inventory");
        var unknownHead = PekkoHttp.requestHead(unknown, "inventory");

        assertThat(knownHead.headers().get("content-length")).isEqualTo("1000");
        assertThat(knownHead.headers().get("transfer-encoding")).isNull();
        assertThat(knownHead.headers().get("content-type")).isEqualTo("application/octet-stream");
        assertThat(knownHead.headers().get("host")).isEqualTo("inventory");
        assertThat(unknownHead.headers().get("transfer-encoding")).isEqualTo("chunked");
        assertThat(unknownHead.headers().get("content-length")).isNull();
    }

    @Test
    void aBodilessGetStaysBodilessAndAnEmptyPostSaysSo() {
        var get = PekkoHttp.requestHead(HttpRequest.GET("/items?x=1"), "inventory:8080");
        var post = PekkoHttp.requestHead(HttpRequest.POST("/items"), "inventory");

        assertThat(get.uri()).isEqualTo("/items?x=1");
        assertThat(get.headers().get("content-length")).isNull();
        assertThat(get.headers().get("transfer-encoding")).isNull();
        assertThat(post.headers().get("content-length")).isEqualTo("0");
    }

    @Test
    void aResponseKeepsItsDeclaredLengthAndAHeadAnswerDeclaresWithoutABody() {
        DefaultHttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set("content-length", "1234").set("content-type", "text/plain; charset=UTF-8").set("x-app", "kept");

        HttpResponse answerToHead = PekkoHttp.response(head, false, null);

        assertThat(answerToHead.entity().getContentLengthOption()).hasValue(1234);
        assertThat(answerToHead.entity().getContentType().toString()).isEqualTo("text/plain; charset=UTF-8");
        assertThat(answerToHead.getHeader("x-app")).isPresent();
        assertThat(answerToHead.getHeader("content-length")).isEmpty();
        var rendered = PekkoHttp.responseHead(answerToHead, false, true);
        assertThat(rendered.headers().get("content-length")).isEqualTo("1234");
        assertThat(rendered.headers().get("transfer-encoding")).isNull();
    }

    @Test
    void anUnknownLengthIsChunkedOverHttp1AndPlainOverHttp2() {
        HttpResponse streamed = HttpResponse.create().withEntity(HttpEntities.createChunked(ContentTypes.APPLICATION_JSON,
                Source.single(ByteString.fromString("{}"))));

        assertThat(PekkoHttp.responseHead(streamed, false, false).headers().get("transfer-encoding")).isEqualTo("chunked");
        assertThat(PekkoHttp.responseHead(streamed, true, false).headers().get("transfer-encoding")).isNull();
        assertThat(PekkoHttp.responseHead(HttpResponse.create().withStatus(204), false, false).headers()
                .get("content-length")).isNull();
    }

    @Test
    void whetherARequestHasABodyFollowsItsFraming() {
        DefaultHttpRequest lengthless = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/");
        DefaultHttpRequest zero = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/");
        zero.headers().set("content-length", "0");
        DefaultHttpRequest chunked = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/");
        chunked.headers().set("transfer-encoding", "chunked");
        DefaultHttpRequest head = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.HEAD, "/");

        assertThat(PekkoHttp.requestHasBody(lengthless, false)).as("HTTP/1.1 without length or chunking").isFalse();
        assertThat(PekkoHttp.requestHasBody(lengthless, true)).as("an HTTP/2 stream its HEADERS did not end").isTrue();
        assertThat(PekkoHttp.requestHasBody(zero, true)).isFalse();
        assertThat(PekkoHttp.requestHasBody(chunked, false)).isTrue();
        assertThat(PekkoHttp.requestHasBody(head, true)).as("HEAD never carries a body").isFalse();
    }

    @Test
    void headersNamedWithUnderscoresAreDroppedRefusedOrKeptAsConfigured() {
        io.netty.handler.codec.http.HttpRequest head = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");
        head.headers().add("x_forwarded_client_cert", "forged").add("x-kept", "yes").add("host", "svc");

        HttpRequest dropped = PekkoHttp.request(head, false, new PekkoHttp.Origin(null, "svc", UnderscoreHeaders.DROP), null);
        HttpRequest allowed = PekkoHttp.request(head, false, new PekkoHttp.Origin(null, "svc", UnderscoreHeaders.ALLOW), null);

        assertThat(dropped.getHeader("x_forwarded_client_cert")).isEmpty();
        assertThat(dropped.getHeader("x-kept")).isPresent();
        assertThat(allowed.getHeader("x_forwarded_client_cert")).isPresent();
        assertThatThrownBy(() -> PekkoHttp.request(head, false,
                new PekkoHttp.Origin(null, "svc", UnderscoreHeaders.REJECT), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("x_forwarded_client_cert");
    }
}
