package io.trellis.controlplane.push;

import io.trellis.controlplane.compile.ProxySnapshot;
import io.trellis.controlplane.registry.ProxyInstance;
import io.trellis.controlplane.registry.ProxyRegistry;
import io.trellis.mesh.v1.ConfigUpdate;
import java.util.List;
import org.apache.pekko.stream.QueueOfferResult;
import org.apache.pekko.stream.javadsl.SourceQueueWithComplete;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One proxy's Connect stream after its Hello: the registry entry, the outgoing snapshot queue and the
 * last snapshot sent. Snapshots are state of the world, so when the queue is full the oldest queued one
 * is dropped in favour of the newest (the queue's drop-head strategy): nothing the proxy needs is lost.
 */
final class ProxySession {
    private static final Logger LOG = LoggerFactory.getLogger(ProxySession.class);

    private final ProxyRegistry.Registration registration;
    private final SourceQueueWithComplete<ConfigUpdate> out;
    private final long lastAppliedAtHello;
    private volatile ProxySnapshot lastSnapshot;

    ProxySession(ProxyRegistry.Registration registration, SourceQueueWithComplete<ConfigUpdate> out,
            long lastAppliedAtHello) {
        this.registration = registration;
        this.out = out;
        this.lastAppliedAtHello = lastAppliedAtHello;
    }

    ProxyInstance instance() {
        return registration.instance();
    }

    ProxyRegistry.Registration registration() {
        return registration;
    }

    long lastAppliedAtHello() {
        return lastAppliedAtHello;
    }

    ProxySnapshot lastSnapshot() {
        return lastSnapshot;
    }

    /** Queues a snapshot; called only from the pusher's thread. */
    void send(ProxySnapshot snapshot, long version, List<String> roots, ConfigUpdate update) {
        lastSnapshot = snapshot;
        registration.sent(version, roots);
        out.offer(update).whenComplete((result, error) -> {
            if (error != null || !(result instanceof QueueOfferResult.Enqueued$)) {
                LOG.debug("snapshot {} not queued for {}: {}", version, instance().nodeId(), error != null ? error : result);
            }
        });
    }
}
