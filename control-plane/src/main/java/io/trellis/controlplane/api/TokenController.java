package io.trellis.controlplane.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Consumes;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Produces;
import io.micronaut.http.annotation.Post;
import io.trellis.controlplane.resource.ResourceCodec;
import io.trellis.controlplane.resource.Validation;
import io.trellis.controlplane.token.JoinTokenAuthenticator;
import io.trellis.controlplane.token.MintedToken;
import java.time.Duration;
import java.util.Set;

/**
 * {@code POST /api/v1/tokens}: mints a join token bound to one identity. Body:
 * {@code {"namespace": "default", "serviceAccount": "web", "ttl": "1h", "singleUse": true}} (ttl default
 * 1h, at most 30 days; singleUse default false). The token is in the response and nowhere else: the whole record
 * as JSON or YAML, or the token alone for {@code Accept: text/plain}.
 */
@Produces({MediaType.APPLICATION_JSON, ApiFormat.YAML, MediaType.TEXT_PLAIN})
@Controller("/api/v1/tokens")
final class TokenController {
    private static final Set<String> FIELDS = Set.of("namespace", "serviceAccount", "ttl", "singleUse");
    private final JoinTokenAuthenticator tokens;
    private final ResourceCodec codec;

    TokenController(JoinTokenAuthenticator tokens, ResourceCodec codec) {
        this.tokens = tokens;
        this.codec = codec;
    }

    @Post
    @Consumes(MediaType.APPLICATION_JSON)
    HttpResponse<byte[]> mint(HttpRequest<?> request, @Body byte[] body) {
        Validation v = new Validation();
        JsonNode node = TokenRequest.object(codec, body, FIELDS, v);
        String namespace = node.path("namespace").asText(null);
        String serviceAccount = node.path("serviceAccount").asText(null);
        v.dnsLabel(namespace, "namespace");
        v.dnsLabel(serviceAccount, "serviceAccount");
        Duration ttl = TokenRequest.ttl(node, Duration.ofHours(1), JoinTokenAuthenticator.MAX_TTL, "720h", v);
        JsonNode singleUse = node.get("singleUse");
        v.check(singleUse == null || singleUse.isBoolean(), "singleUse", singleUse, "true or false");
        v.throwIfInvalid();
        MintedToken minted = tokens.mint(namespace, serviceAccount, ttl, singleUse != null && singleUse.asBoolean());
        if (ApiFormat.plainTextOnly(request)) {
            return ApiFormat.text(HttpResponse.status(HttpStatus.CREATED), minted.token());
        }
        var format = ApiFormat.ofResponse(request);
        return ApiFormat.body(HttpResponse.status(HttpStatus.CREATED), codec.write(minted, format), format);
    }
}
