package io.trellis.controlplane.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import io.trellis.controlplane.registry.ClusterServices;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The cluster's Services and their EndpointSlices, followed through the API server ({@link ResourceWatch}): each
 * Service's ClusterIPs (not a headless one's), and the ready endpoints of its slices at the port named {@code http},
 * else the first TCP port. EndpointSlices rather than Pods: they carry each pod's address and readiness for the
 * Service that selects it, which the Service's selector would otherwise have to be evaluated for, as Istio and Linkerd
 * read them. The snapshot compiler merges this with the sidecars' own registrations.
 */
public final class KubernetesServices implements ClusterServices, AutoCloseable {
    private static final Comparator<Address> BY_ADDRESS = Comparator.comparing(Address::ip).thenComparingInt(Address::port);
    private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
    /** ClusterIPs by namespace/name; guarded by this. */
    private final Map<String, List<String>> clusterIps = new TreeMap<>();
    /** Ready endpoints by slice (namespace/slice name), with the service each belongs to; guarded by this. */
    private final Map<String, Map.Entry<String, List<Address>>> slices = new TreeMap<>();
    private volatile Map<String, Service> published = Map.of();
    private final ResourceWatch services;
    private final ResourceWatch endpointSlices;

    /** Starts following both kinds. */
    public KubernetesServices(KubernetesApi api) {
        this.services = new ResourceWatch(api, "/api/v1/services", "services", new ResourceWatch.Listener() {
            @Override
            public void listed(List<JsonNode> items) {
                synchronized (KubernetesServices.this) {
                    clusterIps.clear();
                    items.forEach(KubernetesServices.this::putService);
                }
                publish();
            }

            @Override
            public void changed(String type, JsonNode object) {
                synchronized (KubernetesServices.this) {
                    if (type.equals("DELETED")) {
                        clusterIps.remove(key(object));
                    } else {
                        putService(object);
                    }
                }
                publish();
            }
        });
        this.endpointSlices = new ResourceWatch(api, "/apis/discovery.k8s.io/v1/endpointslices", "endpointslices",
                new ResourceWatch.Listener() {
                    @Override
                    public void listed(List<JsonNode> items) {
                        synchronized (KubernetesServices.this) {
                            slices.clear();
                            items.forEach(KubernetesServices.this::putSlice);
                        }
                        publish();
                    }

                    @Override
                    public void changed(String type, JsonNode object) {
                        synchronized (KubernetesServices.this) {
                            if (type.equals("DELETED")) {
                                slices.remove(key(object));
                            } else {
                                putSlice(object);
                            }
                        }
                        publish();
                    }
                });
    }

    @Override
    public Map<String, Service> byService() {
        return published;
    }

    @Override
    public void onChange(Runnable listener) {
        listeners.add(listener);
    }

    private void putService(JsonNode service) {
        List<String> ips = new ArrayList<>();
        JsonNode spec = service.path("spec");
        JsonNode many = spec.path("clusterIPs");
        if (many.isArray() && !many.isEmpty()) {
            many.forEach(ip -> ips.add(ip.asText()));
        } else if (spec.path("clusterIP").isTextual()) {
            ips.add(spec.path("clusterIP").asText());
        }
        ips.removeIf(ip -> ip.isEmpty() || ip.equals("None"));
        clusterIps.put(key(service), List.copyOf(ips));
    }

    private void putSlice(JsonNode slice) {
        String service = slice.path("metadata").path("labels").path("kubernetes.io/service-name").asText("");
        if (service.isEmpty() || !slice.path("addressType").asText("IPv4").equals("IPv4")) {
            slices.remove(key(slice));
            return;
        }
        int port = 0;
        for (JsonNode candidate : slice.path("ports")) {
            boolean tcp = candidate.path("protocol").asText("TCP").equals("TCP");
            if (tcp && candidate.path("name").asText("").equals("http")) {
                port = candidate.path("port").asInt();
                break;
            }
            if (tcp && port == 0) {
                port = candidate.path("port").asInt();
            }
        }
        List<Address> ready = new ArrayList<>();
        for (JsonNode endpoint : slice.path("endpoints")) {
            // An unset "ready" means ready (the API's documented default).
            if (port > 0 && endpoint.path("conditions").path("ready").asBoolean(true)) {
                for (JsonNode address : endpoint.path("addresses")) {
                    ready.add(new Address(address.asText(), port));
                }
            }
        }
        slices.put(key(slice), Map.entry(slice.path("metadata").path("namespace").asText("default") + "/" + service,
                List.copyOf(ready)));
    }

    private static String key(JsonNode object) {
        return object.path("metadata").path("namespace").asText("default") + "/" + object.path("metadata").path("name").asText();
    }

    private void publish() {
        Map<String, Service> next;
        synchronized (this) {
            Map<String, Set<Address>> endpoints = new TreeMap<>();
            slices.values().forEach(slice -> endpoints.computeIfAbsent(slice.getKey(), k -> new TreeSet<>(BY_ADDRESS))
                    .addAll(slice.getValue()));
            Set<String> names = new TreeSet<>(clusterIps.keySet());
            names.addAll(endpoints.keySet());
            Map<String, Service> merged = new LinkedHashMap<>();
            for (String service : names) {
                merged.put(service, new Service(clusterIps.getOrDefault(service, List.of()),
                        List.copyOf(endpoints.getOrDefault(service, Set.of()))));
            }
            next = Map.copyOf(merged);
        }
        if (!next.equals(published)) {
            published = next;
            listeners.forEach(Runnable::run);
        }
    }

    @Override
    public void close() {
        services.close();
        endpointSlices.close();
    }
}
