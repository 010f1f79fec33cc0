package io.trellis.controlplane.api;

import io.micronaut.http.HttpMethod;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.annotation.RequestFilter;
import io.micronaut.http.annotation.ServerFilter;
import io.micronaut.core.annotation.Nullable;
import io.trellis.controlplane.token.AdminToken;
import java.util.List;
import java.util.Set;

/**
 * Every mutation of the API requires {@code Authorization: Bearer <admin token>}: 401 when it is
 * missing or malformed, 403 when it is wrong. Reads are open (the API binds where operators put it).
 */
@ServerFilter("/api/**")
final class AdminAuthFilter {
    private static final Set<HttpMethod> READS = Set.of(HttpMethod.GET, HttpMethod.HEAD, HttpMethod.OPTIONS);
    private final AdminToken token;

    AdminAuthFilter(AdminToken token) {
        this.token = token;
    }

    @RequestFilter
    @Nullable
    HttpResponse<?> authorize(HttpRequest<?> request) {
        if (READS.contains(request.getMethod())) {
            return null;
        }
        String header = request.getHeaders().get("Authorization");
        if (header == null || !header.startsWith("Bearer ") || header.length() <= 7) {
            return ErrorBody.of(HttpStatus.UNAUTHORIZED, "unauthenticated",
                    "this request changes the mesh: send Authorization: Bearer <admin token>", List.of())
                    .header("WWW-Authenticate", "Bearer realm=\"trellis\"");
        }
        if (!token.matches(header.substring(7).strip())) {
            return ErrorBody.of(HttpStatus.FORBIDDEN, "forbidden", "the bearer token is not the admin token", List.of());
        }
        return null;
    }
}
