package io.trellis.controlplane.api;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpMethod;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.annotation.RequestFilter;
import io.micronaut.http.annotation.ServerFilter;
import io.trellis.controlplane.token.AdminToken;
import io.trellis.controlplane.token.TokenRejectedException;
import io.trellis.controlplane.token.ViewerTokens;
import java.util.List;
import java.util.Set;

/**
 * Every call to the API carries {@code Authorization: Bearer <token>}: 401 when it is missing or
 * malformed, 403 when it is wrong or not allowed to do this. The admin token may do everything; a viewer
 * token may read (GET, HEAD), except what a controller reserves with {@link #requireAdmin}. The trust
 * bundle alone is public: it is what a new sidecar needs before it has any credential, and it holds no
 * secret.
 */
@ServerFilter("/api/**")
final class ApiAuthFilter {
    private static final Set<HttpMethod> READS = Set.of(HttpMethod.GET, HttpMethod.HEAD);
    private static final String PUBLIC_PATH = "/api/v1/ca/bundle";
    private static final String ROLE = "trellis.api.role";
    private static final String VIEWER_CANNOT = "a viewer token may only read; this needs the admin token";

    private enum Role { ADMIN, VIEWER }

    private final AdminToken admin;
    private final ViewerTokens viewers;

    ApiAuthFilter(AdminToken admin, ViewerTokens viewers) {
        this.admin = admin;
        this.viewers = viewers;
    }

    @RequestFilter
    @Nullable
    HttpResponse<?> authorize(HttpRequest<?> request) {
        String path = request.getPath();
        boolean read = READS.contains(request.getMethod());
        if (read && path.equals(PUBLIC_PATH)) {
            return null;
        }
        String header = request.getHeaders().get("Authorization");
        if (header == null || !header.startsWith("Bearer ") || header.length() <= 7) {
            return ErrorBody.of(HttpStatus.UNAUTHORIZED, "unauthenticated", read
                    ? "send Authorization: Bearer <admin or viewer token>"
                    : "this request changes the mesh: send Authorization: Bearer <admin token>", List.of())
                    .header("WWW-Authenticate", "Bearer realm=\"trellis\"");
        }
        String presented = header.substring(7).strip();
        if (admin.matches(presented)) {
            request.setAttribute(ROLE, Role.ADMIN);
            return null;
        }
        if (!ViewerTokens.looksLikeOne(presented)) {
            return forbidden("the bearer token is neither the admin token nor a viewer token");
        }
        try {
            viewers.authenticate(presented);
        } catch (TokenRejectedException e) {
            return forbidden(e.getMessage());
        }
        if (!read) {
            return forbidden(VIEWER_CANNOT);
        }
        request.setAttribute(ROLE, Role.VIEWER);
        return null;
    }

    /** The 403 for a controller's read that only the admin may make, or null when the caller is the admin. */
    @Nullable
    static HttpResponse<?> requireAdmin(HttpRequest<?> request) {
        return request.getAttribute(ROLE, Role.class).orElse(null) == Role.ADMIN ? null : forbidden(VIEWER_CANNOT);
    }

    private static HttpResponse<?> forbidden(String message) {
        return ErrorBody.of(HttpStatus.FORBIDDEN, "forbidden", message, List.of());
    }
}
