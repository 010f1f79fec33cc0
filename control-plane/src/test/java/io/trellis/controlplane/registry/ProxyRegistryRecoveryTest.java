package io.trellis.controlplane.registry;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.certs.SpiffeId;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProxyRegistryRecoveryTest {
    private static final Instant START = Instant.parse("2026-11-21T12:00:00Z");

    private static ProxyInstance instance(String node, String service, String address) {
        return new ProxyInstance(node, service, "default", SpiffeId.forWorkload("cluster.local", "default", service), address,
                15006, 15008, Map.of("version", "v1"), "test", START);
    }

    @Test
    void savedMembershipComesBackFromTheFile(@TempDir Path dir) throws Exception {
        RegistryFile file = new RegistryFile(dir.resolve("registry.json"));
        List<ProxyInstance> saved = List.of(instance("echo-1", "echo", "127.0.0.2"), instance("web-1", "web", "127.0.0.3"));

        file.save(saved);

        assertThat(file.load()).isEqualTo(saved);
        assertThat(new RegistryFile(dir.resolve("missing.json")).load()).isEmpty();
    }

    @Test
    void aProxyNamingAnotherIdentitysNodeDoesNotReplaceIt() {
        ProxyRegistry registry = new ProxyRegistry();
        registry.register(instance("backend-0.default", "backend", "10.1.0.7"));

        ProxyRegistry.Registration impostor = registry.register(instance("backend-0.default", "web", "10.1.0.9"));
        assertThat(registry.instances()).extracting(ProxyInstance::service).containsExactly("backend", "web");

        registry.deregister(impostor);
        assertThat(registry.instances()).extracting(ProxyInstance::service).containsExactly("backend");
        registry.register(instance("backend-0.default", "backend", "10.1.0.8"));
        assertThat(registry.instances()).as("the same identity's node reconnecting replaces its entry")
                .extracting(ProxyInstance::address).containsExactly("10.1.0.8");
    }

    @Test
    void recoveredInstancesStayUntilTheyReconnectOrTheGracePeriodEnds() {
        ProxyRegistry registry = new ProxyRegistry();
        AtomicInteger changes = new AtomicInteger();
        registry.onMembershipChange(changes::incrementAndGet);
        registry.recover(List.of(instance("echo-1", "echo", "127.0.0.2"), instance("web-1", "web", "127.0.0.3")),
                START.plusSeconds(60));

        // web comes back as a new process (new node id, same endpoint): its old entry goes.
        registry.register(instance("web-2", "web", "127.0.0.3"));
        assertThat(registry.instances()).extracting(ProxyInstance::nodeId).containsExactly("echo-1", "web-2");
        assertThat(registry.statuses()).extracting(s -> s.instance().nodeId()).containsExactly("web-2");

        registry.expireRecovered(START.plusSeconds(59));
        assertThat(registry.instances()).hasSize(2);
        int before = changes.get();
        registry.expireRecovered(START.plusSeconds(61));
        assertThat(registry.instances()).extracting(ProxyInstance::nodeId).containsExactly("web-2");
        assertThat(changes.get()).isEqualTo(before + 1);
    }
}
