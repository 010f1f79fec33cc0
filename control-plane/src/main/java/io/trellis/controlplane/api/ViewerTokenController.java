package io.trellis.controlplane.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Consumes;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.Produces;
import io.trellis.controlplane.resource.ResourceCodec;
import io.trellis.controlplane.resource.Validation;
import io.trellis.controlplane.token.ViewerTokens;
import java.time.Duration;
import java.util.Map;
import java.util.Set;

/**
 * {@code /api/v1/viewertokens}, the admin's: {@code POST} mints a read-only token (body
 * {@code {"name": "dashboard", "ttl": "720h"}}, ttl default 720h, at most 8760h; the token is in the
 * response and nowhere else), {@code GET} lists the live ones without secrets, {@code DELETE /{id}}
 * revokes one at once.
 */
@Produces({MediaType.APPLICATION_JSON, ApiFormat.YAML, MediaType.TEXT_PLAIN})
@Controller("/api/v1/viewertokens")
final class ViewerTokenController {
    private static final Set<String> FIELDS = Set.of("name", "ttl");
    private static final Duration DEFAULT_TTL = Duration.ofDays(30);
    private final ViewerTokens tokens;
    private final ResourceCodec codec;

    ViewerTokenController(ViewerTokens tokens, ResourceCodec codec) {
        this.tokens = tokens;
        this.codec = codec;
    }

    @Post
    @Consumes(MediaType.APPLICATION_JSON)
    HttpResponse<?> mint(HttpRequest<?> request, @Body byte[] body) {
        Validation v = new Validation();
        JsonNode node = TokenRequest.object(codec, body, FIELDS, v);
        String name = node.path("name").asText(null);
        v.dnsLabel(name, "name");
        Duration ttl = TokenRequest.ttl(node, DEFAULT_TTL, ViewerTokens.MAX_TTL, "8760h", v);
        v.throwIfInvalid();
        ViewerTokens.Minted minted = tokens.mint(name, ttl);
        if (ApiFormat.plainTextOnly(request)) {
            return ApiFormat.text(HttpResponse.status(HttpStatus.CREATED), minted.token());
        }
        return respond(request, HttpStatus.CREATED, minted);
    }

    @Get
    HttpResponse<?> list(HttpRequest<?> request) {
        HttpResponse<?> refused = ApiAuthFilter.requireAdmin(request);
        return refused != null ? refused : respond(request, HttpStatus.OK, Map.of("items", tokens.list()));
    }

    @Delete("/{id}")
    HttpResponse<?> revoke(String id) {
        tokens.revoke(id);
        return HttpResponse.noContent();
    }

    private HttpResponse<byte[]> respond(HttpRequest<?> request, HttpStatus status, Object value) {
        var format = ApiFormat.ofResponse(request);
        return ApiFormat.body(HttpResponse.status(status), codec.write(value, format), format);
    }
}
