package io.trellis.controlplane.api;

import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Produces;
import io.micronaut.http.annotation.Get;
import io.trellis.controlplane.registry.ProxyInstance;
import io.trellis.controlplane.registry.ProxyRegistry;
import io.trellis.controlplane.registry.Refusal;
import io.trellis.controlplane.registry.ProxyStatus;
import io.trellis.controlplane.resource.ExternalServiceSpec;
import io.trellis.controlplane.resource.Kind;
import io.trellis.controlplane.resource.Resource;
import io.trellis.controlplane.resource.ResourceCodec;
import io.trellis.controlplane.store.CertificateRecord;
import io.trellis.controlplane.store.PolicyStore;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Read-only views: services, proxies and their sync state, issued certificates. */
@Produces({MediaType.APPLICATION_JSON, ApiFormat.YAML})
@Controller("/api/v1")
final class ViewController {
    private final PolicyStore store;
    private final ProxyRegistry registry;
    private final ResourceCodec codec;
    private final Clock clock;

    ViewController(PolicyStore store, ProxyRegistry registry, ResourceCodec codec, Clock clock) {
        this.store = store;
        this.registry = registry;
        this.codec = codec;
        this.clock = clock;
    }

    /** A service: mesh instances (sidecars) and, for ExternalServices, fixed endpoints. */
    record ServiceView(String name, String namespace, boolean external, List<String> endpoints, List<String> identities) {
    }

    /** One proxy and its config-stream state. */
    record ProxyView(String nodeId, String service, String namespace, String identity, String address, int inboundPort,
            int tunnelPort, Map<String, String> labels, String proxyVersion, Instant connectedSince, long lastSentVersion,
            long lastAckedVersion, String status, String lastNackError) {
    }

    @Get("/services")
    HttpResponse<byte[]> services(HttpRequest<?> request) {
        Map<String, ServiceView> byName = new TreeMap<>();
        for (ProxyInstance i : registry.instances()) {
            ServiceView current = byName.get(i.namespace() + "/" + i.service());
            List<String> endpoints = new ArrayList<>(current == null ? List.of() : current.endpoints());
            List<String> identities = new ArrayList<>(current == null ? List.of() : current.identities());
            endpoints.add(i.address() + ":" + i.inboundPort());
            if (!identities.contains(i.identity().toString())) {
                identities.add(i.identity().toString());
            }
            byName.put(i.namespace() + "/" + i.service(), new ServiceView(i.service(), i.namespace(), false, endpoints, identities));
        }
        for (Resource r : store.state().resources(Kind.EXTERNAL_SERVICE, null)) {
            ExternalServiceSpec spec = r.spec(ExternalServiceSpec.class);
            byName.putIfAbsent(r.key().namespace() + "/" + spec.service(), new ServiceView(spec.service(),
                    r.key().namespace(), true, spec.endpoints().stream().map(e -> e.address() + ":" + e.port()).toList(),
                    List.of()));
        }
        return items(request, List.copyOf(byName.values()));
    }

    @Get("/proxies")
    HttpResponse<byte[]> proxies(HttpRequest<?> request) {
        List<ProxyView> views = new ArrayList<>();
        for (ProxyStatus s : registry.statuses()) {
            ProxyInstance i = s.instance();
            views.add(new ProxyView(i.nodeId(), i.service(), i.namespace(), i.identity().toString(), i.address(),
                    i.inboundPort(), i.tunnelPort(), i.labels(), i.proxyVersion(), i.connectedSince(), s.lastSentVersion(),
                    s.lastAckedVersion(), s.state().name(), s.lastNackError()));
        }
        return respond(request, new ProxiesView(views, registry.refusals()));
    }

    /** The connected proxies, and the latest registrations refused (who tried to serve what, from where, and why). */
    record ProxiesView(List<ProxyView> items, List<Refusal> refused) {
    }

    @Get("/certificates")
    HttpResponse<byte[]> certificates(HttpRequest<?> request) {
        Instant now = clock.instant();
        List<CertificateRecord> live = store.state().certificates().values().stream()
                .filter(c -> c.notAfter().isAfter(now))
                .sorted(Comparator.comparing(CertificateRecord::notAfter))
                .toList();
        return items(request, live);
    }

    private HttpResponse<byte[]> items(HttpRequest<?> request, List<?> items) {
        return respond(request, Map.of("items", items));
    }

    private HttpResponse<byte[]> respond(HttpRequest<?> request, Object body) {
        var format = ApiFormat.ofResponse(request);
        return ApiFormat.body(HttpResponse.ok(), codec.write(body, format), format);
    }
}
