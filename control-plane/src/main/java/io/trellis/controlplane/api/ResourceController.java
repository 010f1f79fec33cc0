package io.trellis.controlplane.api;

import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Consumes;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Produces;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.Put;
import io.micronaut.http.annotation.QueryValue;
import io.micronaut.core.annotation.Nullable;
import io.trellis.controlplane.resource.InvalidResourceException;
import io.trellis.controlplane.resource.Kind;
import io.trellis.controlplane.resource.Resource;
import io.trellis.controlplane.resource.ResourceCodec;
import io.trellis.controlplane.resource.ResourceCodec.Format;
import io.trellis.controlplane.resource.ResourceKey;
import io.trellis.controlplane.store.Change;
import io.trellis.controlplane.store.MeshState;
import io.trellis.controlplane.store.NotFoundException;
import io.trellis.controlplane.store.PolicyStore;
import java.util.List;

/**
 * CRUD for every resource kind under {@code /api/v1/{plural}/{namespace}/{name}} (cluster-scoped kinds:
 * {@code /api/v1/{plural}/{name}}), list endpoints, and {@code POST /api/v1/apply} for multi-document
 * YAML. Bodies are JSON or YAML; writes are validated whole and committed atomically.
 */
@Produces({MediaType.APPLICATION_JSON, ApiFormat.YAML})
@Controller("/api/v1")
final class ResourceController {
    private final PolicyStore store;
    private final ResourceCodec codec;

    ResourceController(PolicyStore store, ResourceCodec codec) {
        this.store = store;
        this.codec = codec;
    }

    @Get("/{plural:meshconfigs|trafficpolicies|routes|authorizationpolicies|subscriptions|externalservices|topicpolicies|servicebindings}")
    HttpResponse<byte[]> list(HttpRequest<?> request, String plural) {
        return listing(request, kind(plural), null);
    }

    /** For namespaced kinds: the list in one namespace; for cluster-scoped kinds: one resource. */
    @Get("/{plural:meshconfigs|trafficpolicies|routes|authorizationpolicies|subscriptions|externalservices|topicpolicies|servicebindings}/{segment}")
    HttpResponse<byte[]> listOrGet(HttpRequest<?> request, String plural, String segment) {
        Kind kind = kind(plural);
        return kind.clusterScoped() ? get(request, kind, "", segment) : listing(request, kind, segment);
    }

    @Get("/{plural:meshconfigs|trafficpolicies|routes|authorizationpolicies|subscriptions|externalservices|topicpolicies|servicebindings}/{namespace}/{name}")
    HttpResponse<byte[]> get(HttpRequest<?> request, String plural, String namespace, String name) {
        return get(request, namespacedKind(plural), namespace, name);
    }

    @Put("/{plural:meshconfigs|trafficpolicies|routes|authorizationpolicies|subscriptions|externalservices|topicpolicies|servicebindings}/{name}")
    @Consumes({MediaType.APPLICATION_JSON, ApiFormat.YAML, "application/x-yaml", "text/yaml"})
    HttpResponse<byte[]> putClusterScoped(HttpRequest<?> request, String plural, String name, @Body byte[] body) {
        Kind kind = kind(plural);
        if (!kind.clusterScoped()) {
            throw InvalidResourceException.of("path", kind.kindName() + " is namespaced (expected /api/v1/"
                    + plural + "/{namespace}/{name})");
        }
        return put(request, kind, "", name, body);
    }

    @Put("/{plural:meshconfigs|trafficpolicies|routes|authorizationpolicies|subscriptions|externalservices|topicpolicies|servicebindings}/{namespace}/{name}")
    @Consumes({MediaType.APPLICATION_JSON, ApiFormat.YAML, "application/x-yaml", "text/yaml"})
    HttpResponse<byte[]> putNamespaced(HttpRequest<?> request, String plural, String namespace, String name,
            @Body byte[] body) {
        return put(request, namespacedKind(plural), namespace, name, body);
    }

    @Delete("/{plural:meshconfigs|trafficpolicies|routes|authorizationpolicies|subscriptions|externalservices|topicpolicies|servicebindings}/{name}")
    HttpResponse<byte[]> deleteClusterScoped(HttpRequest<?> request, String plural, String name,
            @Nullable @QueryValue String resourceVersion) {
        Kind kind = kind(plural);
        if (!kind.clusterScoped()) {
            throw InvalidResourceException.of("path", kind.kindName() + " is namespaced (expected /api/v1/"
                    + plural + "/{namespace}/{name})");
        }
        return delete(request, new ResourceKey(kind, "", name), resourceVersion);
    }

    @Delete("/{plural:meshconfigs|trafficpolicies|routes|authorizationpolicies|subscriptions|externalservices|topicpolicies|servicebindings}/{namespace}/{name}")
    HttpResponse<byte[]> deleteNamespaced(HttpRequest<?> request, String plural, String namespace, String name,
            @Nullable @QueryValue String resourceVersion) {
        return delete(request, new ResourceKey(namespacedKind(plural), namespace, name), resourceVersion);
    }

    @Post("/apply")
    @Consumes({ApiFormat.YAML, "application/x-yaml", "text/yaml", MediaType.APPLICATION_JSON})
    HttpResponse<byte[]> apply(HttpRequest<?> request, @Body byte[] body) {
        List<Resource> resources = codec.decodeAll(body, ApiFormat.ofBody(request));
        MeshState after = store.commit(new Change.PutResources(resources));
        List<Resource> applied = resources.stream().map(r -> after.resource(r.key()).orElseThrow()).toList();
        Format format = ApiFormat.ofResponse(request);
        return ApiFormat.body(HttpResponse.ok(), codec.encodeList(applied, format), format);
    }

    private HttpResponse<byte[]> listing(HttpRequest<?> request, Kind kind, String namespace) {
        Format format = ApiFormat.ofResponse(request);
        return ApiFormat.body(HttpResponse.ok(), codec.encodeList(store.state().resources(kind, namespace), format), format);
    }

    private HttpResponse<byte[]> get(HttpRequest<?> request, Kind kind, String namespace, String name) {
        ResourceKey key = new ResourceKey(kind, namespace, name);
        Resource resource = store.state().resource(key).orElseThrow(() -> new NotFoundException(key + " does not exist"));
        Format format = ApiFormat.ofResponse(request);
        return ApiFormat.body(HttpResponse.ok(), codec.encode(resource, format), format);
    }

    private HttpResponse<byte[]> put(HttpRequest<?> request, Kind kind, String namespace, String name, byte[] body) {
        Resource resource = codec.decode(body, ApiFormat.ofBody(request));
        ResourceKey path = new ResourceKey(kind, namespace, name);
        if (resource.kind() != kind) {
            throw InvalidResourceException.of("kind", "'" + resource.kind().kindName() + "' (expected "
                    + kind.kindName() + " at this path)");
        }
        if (!resource.key().equals(path)) {
            throw InvalidResourceException.of("metadata", "names " + resource.key() + " (expected " + path
                    + " to match the path)");
        }
        boolean existed = store.state().resource(path).isPresent();
        MeshState after = store.commit(new Change.PutResources(List.of(resource)));
        Format format = ApiFormat.ofResponse(request);
        byte[] out = codec.encode(after.resource(path).orElseThrow(), format);
        return ApiFormat.body(existed ? HttpResponse.ok() : HttpResponse.status(io.micronaut.http.HttpStatus.CREATED), out, format);
    }

    private HttpResponse<byte[]> delete(HttpRequest<?> request, ResourceKey key, String resourceVersion) {
        Long expected = null;
        if (resourceVersion != null) {
            if (!resourceVersion.matches("\\d{1,18}")) {
                throw InvalidResourceException.of("resourceVersion", "'" + resourceVersion
                        + "' (expected a decimal revision as returned by the API)");
            }
            expected = Long.parseLong(resourceVersion);
        }
        Resource gone = store.state().resource(key).orElseThrow(() -> new NotFoundException(key + " does not exist"));
        store.commit(new Change.DeleteResource(key, expected));
        Format format = ApiFormat.ofResponse(request);
        return ApiFormat.body(HttpResponse.ok(), codec.encode(gone, format), format);
    }

    private static Kind kind(String plural) {
        return Kind.byPlural(plural).orElseThrow(() -> new NotFoundException("no resource kind '" + plural + "'"));
    }

    private static Kind namespacedKind(String plural) {
        Kind kind = kind(plural);
        if (kind.clusterScoped()) {
            throw new NotFoundException(kind.kindName() + " is cluster-scoped (expected /api/v1/" + plural + "/{name})");
        }
        return kind;
    }
}
