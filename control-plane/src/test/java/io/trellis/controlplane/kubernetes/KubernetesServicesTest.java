package io.trellis.controlplane.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.certs.Pem;
import io.trellis.controlplane.registry.ClusterServices;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The cluster's Services through list and watch, against a double of the API server over real HTTPS. */
class KubernetesServicesTest {
    @TempDir
    Path dir;

    private KubernetesApiDouble api;
    private KubernetesServices services;
    private final AtomicInteger changes = new AtomicInteger();

    @BeforeEach
    void start() throws Exception {
        api = KubernetesApiDouble.start("127.0.0.1", 0);
        api.writeCredentials(dir);
        api.service("shop", "inventory", "10.96.0.12");
        api.service("shop", "headless", "None");
        services = new KubernetesServices(new KubernetesApi(api.url(),
                Pem.decodeCertificates(Files.readString(dir.resolve("ca.crt"))), dir.resolve("token")));
        services.onChange(changes::incrementAndGet);
    }

    @AfterEach
    void stop() {
        services.close();
        api.close();
    }

    private static ClusterServices.Service service(String clusterIp) {
        return new ClusterServices.Service(List.of(clusterIp), List.of());
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void theListGivesEveryServiceWithAClusterIpButTheHeadlessOnes() throws Exception {
        await("the first list", () -> !services.byService().isEmpty());
        assertThat(services.byService()).isEqualTo(Map.of("shop/inventory", service("10.96.0.12"),
                "shop/headless", new ClusterServices.Service(List.of(), List.of())));
    }

    @Test
    void theWatchBringsNewChangedAndDeletedServicesInOrder() throws Exception {
        await("the first list", () -> !services.byService().isEmpty());
        api.service("shop", "pricing", "10.96.0.40");
        await("pricing", () -> services.byService().containsKey("shop/pricing"));
        api.service("shop", "pricing", "10.96.0.41");
        await("pricing's new address", () -> services.byService().get("shop/pricing").equals(service("10.96.0.41")));
        api.deleteService("shop", "inventory");
        api.deleteService("shop", "headless");
        // The two deletions are two watch events: wait for the later one, since the watch applies them in order.
        await("headless gone", () -> !services.byService().containsKey("shop/headless"));
        assertThat(services.byService()).isEqualTo(Map.of("shop/pricing", service("10.96.0.41")));
        assertThat(changes.get()).isGreaterThanOrEqualTo(4);
    }

    @Test
    void theReadyEndpointsOfAServicesSlicesAreItsEndpoints() throws Exception {
        await("the first list", () -> !services.byService().isEmpty());
        api.endpointSlice("shop", "inventory", 8080, true, "10.1.0.7", "10.1.0.8");
        await("inventory's endpoints", () -> services.byService().get("shop/inventory").endpoints().size() == 2);
        assertThat(services.byService().get("shop/inventory")).isEqualTo(new ClusterServices.Service(List.of("10.96.0.12"),
                List.of(new ClusterServices.Address("10.1.0.7", 8080), new ClusterServices.Address("10.1.0.8", 8080))));

        api.endpointSlice("shop", "inventory", 8080, false, "10.1.0.7", "10.1.0.8");
        await("not ready: no endpoints", () -> services.byService().get("shop/inventory").endpoints().isEmpty());
        api.endpointSlice("shop", "batch-only", 9000, true, "10.1.0.20");
        await("a service seen only through its slice", () -> services.byService().containsKey("shop/batch-only"));
        api.deleteEndpointSlice("shop", "batch-only");
        await("its slice deleted", () -> !services.byService().containsKey("shop/batch-only"));
    }

    @Test
    void aVersionTheServerNoLongerKeepsIsAnsweredWithANewList() throws Exception {
        await("the first list", () -> !services.byService().isEmpty());
        api.compact();
        api.service("shop", "ledger", "10.96.0.77");
        api.compact();
        await("ledger, through a new list", () -> services.byService().containsKey("shop/ledger"));
        assertThat(services.byService()).containsKeys("shop/inventory", "shop/ledger");
    }
}
