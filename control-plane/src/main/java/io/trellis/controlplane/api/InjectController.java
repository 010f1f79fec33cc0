package io.trellis.controlplane.api;

import io.micronaut.context.annotation.Requires;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Consumes;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Post;
import io.trellis.controlplane.ca.MeshCertificateAuthority;
import io.trellis.controlplane.inject.AdmissionWebhook;
import io.trellis.controlplane.inject.MalformedReviewException;
import io.trellis.controlplane.inject.PodInjector;
import io.trellis.controlplane.store.PolicyStore;
import java.util.List;

/**
 * The mutating admission webhook: {@code POST /inject} for pods of namespaces labelled {@code trellis.io/inject:
 * enabled} (a pod opts out with the annotation {@code disabled}), {@code POST /inject/pod} for pods that opt in
 * with the label themselves (the chart's two webhooks). Served only when {@code trellis.injector.enabled}. It needs no bearer token, because the
 * API server calls it with none: it changes nothing and answers with nothing secret (the trust bundle is public, see
 * {@code ApiAuthFilter}), and the chart serves it over TLS that the API server checks against the webhook's CA bundle.
 */
@Controller("/inject")
@Requires(property = "trellis.injector.enabled", value = "true")
final class InjectController {
    private final AdmissionWebhook webhook;
    private final PolicyStore store;
    private final MeshCertificateAuthority ca;

    InjectController(AdmissionWebhook webhook, PolicyStore store, MeshCertificateAuthority ca) {
        this.webhook = webhook;
        this.store = store;
        this.ca = ca;
    }

    @Post
    @Consumes({MediaType.APPLICATION_JSON, MediaType.ALL})
    HttpResponse<?> namespaceScoped(@Nullable @Body byte[] body) {
        return review(body, PodInjector.Scope.NAMESPACE);
    }

    @Post("/pod")
    @Consumes({MediaType.APPLICATION_JSON, MediaType.ALL})
    HttpResponse<?> podScoped(@Nullable @Body byte[] body) {
        return review(body, PodInjector.Scope.POD);
    }

    private HttpResponse<?> review(byte[] body, PodInjector.Scope scope) {
        try {
            byte[] answer = webhook.review(body == null ? new byte[0] : body, scope,
                    store.state().meshConfig().trustDomain(), ca.trustBundle().toPem());
            return HttpResponse.ok(answer).contentType(MediaType.APPLICATION_JSON_TYPE);
        } catch (MalformedReviewException e) {
            return ErrorBody.of(HttpStatus.BAD_REQUEST, "invalid", e.getMessage(), List.of());
        }
    }
}
