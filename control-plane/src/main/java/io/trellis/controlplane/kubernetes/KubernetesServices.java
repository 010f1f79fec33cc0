package io.trellis.controlplane.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.trellis.controlplane.registry.ServiceAddresses;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster's Services, watched through the API server the way a Kubernetes controller does: a list, then a watch
 * from the list's {@code resourceVersion}, resumed from the last version seen when the server ends it, and a new list
 * when the server says that version is gone (410). Each Service's ClusterIPs (not headless ones) go to the mesh
 * service of the same name and namespace, so that an app's connection to a ClusterIP is meshed. One daemon thread;
 * failures back off (1 s doubling to 30 s) and are logged, and the last addresses stay in force meanwhile.
 */
public final class KubernetesServices implements ServiceAddresses, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(KubernetesServices.class);
    private static final String SERVICES = "/api/v1/services";
    private static final Duration WATCH = Duration.ofMinutes(5);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(30);

    private final KubernetesApi api;
    private final ObjectMapper json = new ObjectMapper();
    private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
    private final Map<String, List<String>> addresses = new TreeMap<>();
    private volatile Map<String, List<String>> published = Map.of();
    private final Thread thread;
    private volatile boolean closed;

    /** Starts watching. */
    public KubernetesServices(KubernetesApi api) {
        this.api = api;
        this.thread = new Thread(this::run, "trellis-kubernetes-services");
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    public Map<String, List<String>> byService() {
        return published;
    }

    @Override
    public void onChange(Runnable listener) {
        listeners.add(listener);
    }

    private void run() {
        Duration backoff = Duration.ofSeconds(1);
        String version = null;
        while (!closed) {
            try {
                if (version == null) {
                    version = list();
                }
                String[] resume = {version};
                boolean[] gone = {false};
                int status = api.watch(SERVICES + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=" + WATCH.toSeconds()
                        + "&resourceVersion=" + version, WATCH, line -> gone[0] |= !event(line, resume));
                version = gone[0] || status == 410 ? null : resume[0];
                if (status != 200 && status != 410) {
                    throw new IOException("the services watch was answered " + status);
                }
                backoff = Duration.ofSeconds(1);
            } catch (InterruptedException e) {
                return;
            } catch (IOException | RuntimeException e) {
                if (closed) {
                    return;
                }
                LOG.warn("watching Kubernetes services failed ({}); trying again in {} s", e.getMessage(), backoff.toSeconds());
                try {
                    Thread.sleep(backoff.toMillis());
                } catch (InterruptedException stopped) {
                    return;
                }
                backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
            }
        }
    }

    /** Lists every Service; returns the list's resourceVersion. */
    private String list() throws IOException, InterruptedException {
        HttpResponse<String> response = api.get(SERVICES);
        if (response.statusCode() != 200) {
            throw new IOException("listing services was answered " + response.statusCode()
                    + (response.statusCode() == 403 ? " (the control plane's service account may not list services)" : ""));
        }
        JsonNode list = json.readTree(response.body());
        addresses.clear();
        for (JsonNode service : list.path("items")) {
            put(service);
        }
        publish();
        return list.path("metadata").path("resourceVersion").asText();
    }

    /** Applies one watch event; false when the server said the version is gone (a new list is needed). */
    private boolean event(String line, String[] version) {
        JsonNode event;
        try {
            event = json.readTree(line);
        } catch (IOException e) {
            LOG.warn("a services watch event is not JSON; ignored");
            return true;
        }
        JsonNode object = event.path("object");
        switch (event.path("type").asText()) {
            case "ADDED", "MODIFIED" -> put(object);
            case "DELETED" -> addresses.remove(key(object));
            case "BOOKMARK" -> { }
            case "ERROR" -> {
                return object.path("code").asInt() != 410;
            }
            default -> {
                return true;
            }
        }
        version[0] = object.path("metadata").path("resourceVersion").asText(version[0]);
        if (!event.path("type").asText().equals("BOOKMARK")) {
            publish();
        }
        return true;
    }

    private void put(JsonNode service) {
        List<String> ips = new ArrayList<>();
        JsonNode spec = service.path("spec");
        JsonNode many = spec.path("clusterIPs");
        if (many.isArray() && !many.isEmpty()) {
            many.forEach(ip -> ips.add(ip.asText()));
        } else if (spec.path("clusterIP").isTextual()) {
            ips.add(spec.path("clusterIP").asText());
        }
        ips.removeIf(ip -> ip.isEmpty() || ip.equals("None"));
        if (ips.isEmpty()) {
            addresses.remove(key(service));
        } else {
            addresses.put(key(service), List.copyOf(ips));
        }
    }

    private static String key(JsonNode object) {
        return object.path("metadata").path("namespace").asText("default") + "/" + object.path("metadata").path("name").asText();
    }

    private void publish() {
        Map<String, List<String>> next = Map.copyOf(addresses);
        if (!next.equals(published)) {
            published = next;
            listeners.forEach(Runnable::run);
        }
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
    }
}
