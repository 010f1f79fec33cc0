package io.trellis.controlplane.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows one kind of Kubernetes object the way a controller's informer does: a list, then a watch from the list's
 * {@code resourceVersion}, resumed from the last version seen when the server ends it, and a new list when the server
 * says that version is gone (410). One daemon thread; failures back off (1 s doubling to 30 s) and are logged, and
 * the listener keeps what it had meanwhile.
 */
final class ResourceWatch implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ResourceWatch.class);
    private static final Duration WATCH = Duration.ofMinutes(5);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(30);

    /** What the watch reports, on its thread. */
    interface Listener {
        /** A list replaced everything known before. */
        void listed(List<JsonNode> items);

        /** One object was ADDED, MODIFIED or DELETED. */
        void changed(String type, JsonNode object);
    }

    private final KubernetesApi api;
    private final String path;
    private final String what;
    private final Listener listener;
    private final ObjectMapper json = new ObjectMapper();
    private final Thread thread;
    private volatile boolean closed;

    /**
     * Starts following {@code path} ({@code /api/v1/services}).
     *
     * @param what the objects' name for logs ({@code services})
     */
    ResourceWatch(KubernetesApi api, String path, String what, Listener listener) {
        this.api = api;
        this.path = path;
        this.what = what;
        this.listener = listener;
        this.thread = new Thread(this::run, "trellis-kubernetes-" + what);
        thread.setDaemon(true);
        thread.start();
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
                int status = api.watch(path + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=" + WATCH.toSeconds()
                        + "&resourceVersion=" + version, WATCH, line -> gone[0] |= !event(line, resume));
                version = gone[0] || status == 410 ? null : resume[0];
                if (status != 200 && status != 410) {
                    throw new IOException("the " + what + " watch was answered " + status);
                }
                backoff = Duration.ofSeconds(1);
            } catch (InterruptedException e) {
                return;
            } catch (IOException | RuntimeException e) {
                if (closed) {
                    return;
                }
                LOG.warn("watching Kubernetes {} failed ({}); trying again in {} s", what, e.getMessage(), backoff.toSeconds());
                try {
                    Thread.sleep(backoff.toMillis());
                } catch (InterruptedException stopped) {
                    return;
                }
                backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
            }
        }
    }

    /** Lists every object; returns the list's resourceVersion. */
    private String list() throws IOException, InterruptedException {
        HttpResponse<String> response = api.get(path);
        if (response.statusCode() != 200) {
            throw new IOException("listing " + what + " was answered " + response.statusCode()
                    + (response.statusCode() == 403 ? " (the control plane's service account may not list " + what + ")" : ""));
        }
        JsonNode list = json.readTree(response.body());
        List<JsonNode> items = new ArrayList<>();
        list.path("items").forEach(items::add);
        listener.listed(items);
        return list.path("metadata").path("resourceVersion").asText();
    }

    /** Applies one watch event; false when the server said the version is gone (a new list is needed). */
    private boolean event(String line, String[] version) {
        JsonNode event;
        try {
            event = json.readTree(line);
        } catch (IOException e) {
            LOG.warn("a {} watch event is not JSON; ignored", what);
            return true;
        }
        String type = event.path("type").asText();
        JsonNode object = event.path("object");
        if (type.equals("ERROR")) {
            return object.path("code").asInt() != 410;
        }
        if (type.equals("ADDED") || type.equals("MODIFIED") || type.equals("DELETED")) {
            listener.changed(type, object);
        }
        version[0] = object.path("metadata").path("resourceVersion").asText(version[0]);
        return true;
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
    }
}
