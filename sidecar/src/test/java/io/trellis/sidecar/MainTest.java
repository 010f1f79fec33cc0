package io.trellis.sidecar;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MainTest {
    private static final String[] REQUIRED = {"--service", "web", "--app-port", "8000", "--token-file", "/t", "--ca-bundle", "/b"};

    @Test
    void flagsBecomeSidecarPropertiesAndRepeatableFlagsCollect() {
        Map<String, Object> properties = Main.parse(concat(REQUIRED, "--upstream", "inventory=9191", "--upstream=billing=9292",
                "--label", "version=v2"), Map.of());

        assertThat(properties).containsEntry("trellis.sidecar.service", "web")
                .containsEntry("trellis.sidecar.app-port", "8000")
                .containsEntry("trellis.sidecar.upstreams", List.of("inventory=9191", "billing=9292"))
                .containsEntry("trellis.sidecar.labels", List.of("version=v2"));
    }

    @Test
    void environmentVariablesAreEquivalentAndFlagsWin() {
        Map<String, Object> properties = Main.parse(new String[] {"--service", "web"}, Map.of(
                "TRELLIS_SERVICE", "ignored", "TRELLIS_APP_PORT", "8000", "TRELLIS_TOKEN_FILE", "/t", "TRELLIS_CA_BUNDLE", "/b",
                "TRELLIS_UPSTREAM", "inventory=9191,billing=9292"));

        assertThat(properties).containsEntry("trellis.sidecar.service", "web")
                .containsEntry("trellis.sidecar.upstreams", List.of("inventory=9191", "billing=9292"));
    }

    @Test
    void badFlagsAreNamed() {
        assertThatThrownBy(() -> Main.parse(new String[] {"--service", "web"}, Map.of()))
                .hasMessage("--app-port is required (or TRELLIS_APP_PORT)");
        assertThatThrownBy(() -> Main.parse(concat(REQUIRED, "--inbound-port", "http"), Map.of()))
                .hasMessage("--inbound-port: 'http' (expected a port number)");
        assertThatThrownBy(() -> Main.parse(concat(REQUIRED, "--bogus", "1"), Map.of())).hasMessage("unknown flag --bogus");
    }

    @Test
    void configValidationNamesTheFlagAndTheExpectation() {
        assertThatThrownBy(() -> config("Web_1", List.of())).hasMessageStartingWith("--service: Web_1 (expected a DNS label");
        assertThatThrownBy(() -> config("web", List.of("inventory"))).hasMessage(
                "--upstream: inventory (expected NAME=LOCALPORT for HTTP or NAME[:PORT]=LOCALPORT/tcp for opaque TCP)");
        assertThat(config("web", List.of("inventory=9191")).declaredUpstreams())
                .containsExactly(new SidecarConfig.Upstream("inventory", 9191));
        assertThat(config("web", List.of()).identity()).hasToString("spiffe://cluster.local/ns/default/sa/web");
    }

    @Test
    void tcpUpstreamsNameTheLocalPortAndOptionallyTheServicesTcpPort() {
        assertThat(config("web", List.of("cache=16379/tcp", "db:5432=15432/tcp", "inventory=9191")).declaredUpstreams())
                .containsExactly(new SidecarConfig.Upstream("cache", 16379, true, 0),
                        new SidecarConfig.Upstream("db", 15432, true, 5432),
                        new SidecarConfig.Upstream("inventory", 9191, false, 0));
        assertThatThrownBy(() -> config("web", List.of("db:5432=15432"))).hasMessage(
                "--upstream: db:5432=15432 (a target port is for TCP upstreams: NAME:PORT=LOCALPORT/tcp)");
        assertThatThrownBy(() -> config("web", List.of("db:0=15432/tcp"))).hasMessage(
                "--upstream db: target port 0 (expected 1-65535)");
        assertThatThrownBy(() -> config("web", List.of("db=15432/udp"))).hasMessageStartingWith("--upstream: db=15432/udp (expected");
    }

    @Test
    void kafkaBootstrapMustBeAHostPortList() {
        assertThatThrownBy(() -> config("web", List.of(), "broker")).hasMessage(
                "--kafka-bootstrap: broker (expected HOST:PORT[,HOST:PORT...])");
        assertThat(config("web", List.of(), "10.0.0.1:9092,10.0.0.2:9092").kafkaBootstrap()).isEqualTo("10.0.0.1:9092,10.0.0.2:9092");
        assertThat(config("web", List.of(), null).kafkaBootstrap()).isEmpty();
    }

    private static SidecarConfig config(String service, List<String> upstreams) {
        return config(service, upstreams, null);
    }

    private static SidecarConfig config(String service, List<String> upstreams, String kafkaBootstrap) {
        return new SidecarConfig(service, "default", null, "cluster.local", 8000, "auto", Path.of("/t"), Path.of("/b"),
                "127.0.0.1:15010", "127.0.0.1", 15001, 15006, 15008, 15020, "0.0.0.0", 15002, upstreams, null, List.of(),
                java.time.Duration.ofSeconds(10), kafkaBootstrap, "drop", 8192, "sensitive", null, null, null);
    }

    private static String[] concat(String[] first, String... more) {
        String[] all = java.util.Arrays.copyOf(first, first.length + more.length);
        System.arraycopy(more, 0, all, first.length, more.length);
        return all;
    }
}
