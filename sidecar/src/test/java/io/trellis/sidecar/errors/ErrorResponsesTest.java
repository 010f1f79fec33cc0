package io.trellis.sidecar.errors;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.HashSet;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.junit.jupiter.api.Test;

class ErrorResponsesTest {
    @Test
    void httpCallersGetStatusHeaderAndJsonBody() {
        HttpResponse response = ErrorResponses.respond(HttpRequest.GET("/x"),
                new ProxyException(ProxyError.NO_ROUTE, "no service \"nosuch\""), "unknown", "req-1");

        assertThat(response.status().intValue()).isEqualTo(404);
        assertThat(response.getHeader("trellis-error").map(HttpHeader::value)).contains("no-route");
        assertThat(response.getHeader("x-request-id").map(HttpHeader::value)).contains("req-1");
        assertThat(((HttpEntity.Strict) response.entity()).getData().utf8String()).isEqualTo(
                "{\"error\":\"no-route\",\"message\":\"no service \\\"nosuch\\\"\",\"service\":\"unknown\",\"requestId\":\"req-1\"}");
    }

    @Test
    void grpcCallersGetATrailersOnlyGrpcStatus() {
        HttpRequest grpc = HttpRequest.POST("/pkg.Svc/Call")
                .withEntity(HttpEntities.create(ContentTypes.parse("application/grpc"), new byte[0]));

        HttpResponse response = ErrorResponses.respond(grpc, new ProxyException(ProxyError.DENIED, "100% no"), "echo", null);

        assertThat(response.status().intValue()).isEqualTo(200);
        assertThat(response.getHeader("grpc-status").map(HttpHeader::value)).contains("7");
        assertThat(response.getHeader("grpc-message").map(HttpHeader::value)).contains("denied: 100%25 no");
        assertThat(response.getHeader("trellis-error").map(HttpHeader::value)).contains("denied");
    }

    @Test
    void everyErrorHasItsOwnCodeAndAnHttpAndGrpcStatus() {
        assertThat(new HashSet<>(Arrays.stream(ProxyError.values()).map(ProxyError::code).toList())).hasSize(ProxyError.values().length);
        for (ProxyError error : ProxyError.values()) {
            assertThat(error.httpStatus()).as(error.code()).isBetween(400, 599);
            assertThat(error.grpcStatus().number()).as(error.code()).isPositive();
        }
    }
}
