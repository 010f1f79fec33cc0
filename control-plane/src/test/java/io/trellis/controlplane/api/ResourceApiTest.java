package io.trellis.controlplane.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.MediaType;
import io.micronaut.http.MutableHttpRequest;
import io.micronaut.http.client.HttpClient;
import io.micronaut.http.client.annotation.Client;
import io.micronaut.http.client.exceptions.HttpClientResponseException;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import io.micronaut.test.support.TestPropertyProvider;
import io.trellis.certs.OwnerOnlyFiles;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

@MicronautTest
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ResourceApiTest implements TestPropertyProvider {
    private static final ObjectMapper JSON = new ObjectMapper();
    private Path dataDir;

    @Inject
    @Client("/")
    HttpClient http;

    @Override
    public Map<String, String> getProperties() {
        try {
            dataDir = Files.createTempDirectory("trellis-api");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return Map.of("micronaut.server.port", "-1", "trellis.grpc-port", "0", "trellis.grpc-host", "127.0.0.1",
                "trellis.data-dir", dataDir.resolve("data").toString());
    }

    private String adminToken() throws IOException {
        return Files.readString(dataDir.resolve("data/admin-token")).strip();
    }

    private <T> MutableHttpRequest<T> admin(MutableHttpRequest<T> request) throws IOException {
        return request.bearerAuth(adminToken());
    }

    private MutableHttpRequest<?> adminGet(String path) throws IOException {
        return HttpRequest.GET(path).bearerAuth(adminToken());
    }

    private JsonNode exchange(MutableHttpRequest<?> request) {
        return readJson(http.toBlocking().exchange(request, String.class));
    }

    private static JsonNode readJson(HttpResponse<String> response) {
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private HttpClientResponseException failure(MutableHttpRequest<?> request) {
        try {
            http.toBlocking().exchange(request, String.class);
        } catch (HttpClientResponseException e) {
            return e;
        }
        throw new AssertionError("expected an error response for " + request.getPath());
    }

    private static JsonNode body(HttpClientResponseException e) {
        try {
            return JSON.readTree(e.getResponse().getBody(String.class).orElseThrow());
        } catch (IOException ex) {
            throw new IllegalStateException(ex);
        }
    }

    private static final String ROUTE_YAML = """
            kind: Route
            metadata: {name: inventory-canary, namespace: default}
            spec:
              service: inventory
              rules:
                - match: {headers: {x-api-version: {exact: v2}}}
                  backends: [{subset: {version: v2}, weight: 100}]
                - match: {path: {prefix: /}}
                  backends: [{subset: {version: v1}, weight: 90}, {subset: {version: v2}, weight: 10}]
                  timeout: 2s
            """;

    @Test
    void adminTokenFileIsOwnerOnly() throws IOException {
        assertThat(OwnerOnlyFiles.isGroupOrWorldAccessible(dataDir.resolve("data/admin-token"))).isFalse();
        assertThat(adminToken()).hasSizeGreaterThanOrEqualTo(32);
    }

    @Test
    void theDataDirectoryAndItsCaDirectoryAreOwnerOnly() throws IOException {
        // Issue 12, item 14: the data directory was created 0755 by whichever file was written first.
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(
                java.nio.file.Files.getPosixFilePermissions(dataDir.resolve("data")))).isEqualTo("rwx------");
        try (var roots = java.nio.file.Files.list(dataDir.resolve("data/ca"))) {
            assertThat(roots).allSatisfy(root -> assertThat(java.nio.file.attribute.PosixFilePermissions.toString(
                    java.nio.file.Files.getPosixFilePermissions(root))).isEqualTo("rwx------"));
        }
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(
                java.nio.file.Files.getPosixFilePermissions(dataDir.resolve("data/ca")))).isEqualTo("rwx------");
    }

    @Test
    void createsReadsUpdatesAndDeletesAResourceInYamlAndJson() throws IOException {
        HttpResponse<String> created = http.toBlocking().exchange(admin(HttpRequest
                .PUT("/api/v1/routes/default/inventory-canary", ROUTE_YAML).contentType(ApiFormat.YAML)), String.class);
        assertThat(created.getStatus().getCode()).isEqualTo(HttpStatus.CREATED.getCode());
        JsonNode route = readJson(created);
        String version = route.at("/metadata/resourceVersion").asText();
        assertThat(route.at("/spec/rules/1/timeout").asText()).isEqualTo("2s");
        assertThat(route.at("/spec/rules/0/match/path/prefix").asText()).as("default match").isEqualTo("/");

        JsonNode read = exchange(adminGet("/api/v1/routes/default/inventory-canary"));
        assertThat(read.toString()).isEqualTo(route.toString());
        String asYaml = http.toBlocking().retrieve(adminGet("/api/v1/routes/default/inventory-canary")
                .accept(ApiFormat.YAML));
        assertThat(asYaml).contains("kind: Route").contains("timeout: 2s");

        String updated = ROUTE_YAML.replace("timeout: 2s", "timeout: 3s")
                .replace("namespace: default}", "namespace: default, resourceVersion: \"" + version + "\"}");
        JsonNode afterUpdate = exchange(admin(HttpRequest.PUT("/api/v1/routes/default/inventory-canary", updated)
                .contentType(ApiFormat.YAML)));
        assertThat(afterUpdate.at("/spec/rules/1/timeout").asText()).isEqualTo("3s");
        assertThat(Long.parseLong(afterUpdate.at("/metadata/resourceVersion").asText())).isGreaterThan(Long.parseLong(version));
        assertThat(afterUpdate.at("/metadata/creationTimestamp").asText()).isEqualTo(route.at("/metadata/creationTimestamp").asText());

        assertThat(exchange(adminGet("/api/v1/routes/default")).get("items").size()).isEqualTo(1);
        assertThat(exchange(adminGet("/api/v1/routes")).get("items").size()).isEqualTo(1);

        exchange(admin(HttpRequest.DELETE("/api/v1/routes/default/inventory-canary")));
        assertThat(failure(adminGet("/api/v1/routes/default/inventory-canary")).getStatus().getCode())
                .isEqualTo(HttpStatus.NOT_FOUND.getCode());
    }

    @Test
    void meshConfigIsClusterScopedAndDefaulted() throws IOException {
        JsonNode config = exchange(admin(HttpRequest.PUT("/api/v1/meshconfigs/default",
                "{\"kind\":\"MeshConfig\",\"metadata\":{\"name\":\"default\"},\"spec\":{\"mtls\":\"PERMISSIVE\"}}")
                .contentType(MediaType.APPLICATION_JSON)));
        assertThat(config.at("/spec/trustDomain").asText()).isEqualTo("cluster.local");
        assertThat(config.at("/spec/certificateTtl").asText()).isEqualTo("24h");
        assertThat(config.at("/spec/mtls").asText()).isEqualTo("PERMISSIVE");
        assertThat(exchange(adminGet("/api/v1/meshconfigs/default")).at("/spec/mtls").asText()).isEqualTo("PERMISSIVE");

        HttpClientResponseException wrongName = failure(admin(HttpRequest.PUT("/api/v1/meshconfigs/other",
                "{\"kind\":\"MeshConfig\",\"metadata\":{\"name\":\"other\"},\"spec\":{}}").contentType(MediaType.APPLICATION_JSON)));
        assertThat(wrongName.getStatus().getCode()).isEqualTo(HttpStatus.BAD_REQUEST.getCode());
        assertThat(body(wrongName).at("/fields/0/field").asText()).isEqualTo("metadata.name");
    }

    @Test
    void aKeyGivenTwiceIsRefusedInJsonAndYamlAndNothingIsStored() throws IOException {
        // Issue 12, item 11: "action" twice was stored as the last one, ALLOW.
        String json = "{\"kind\":\"AuthorizationPolicy\",\"metadata\":{\"name\":\"dup\",\"namespace\":\"default\"},"
                + "\"spec\":{\"service\":\"vault\",\"action\":\"DENY\",\"action\":\"ALLOW\",\"rules\":[{}]}}";
        String yaml = """
                kind: AuthorizationPolicy
                metadata: {name: dup, namespace: default}
                spec:
                  service: vault
                  action: DENY
                  action: ALLOW
                  rules: [{}]
                """;

        HttpClientResponseException inJson = failure(admin(HttpRequest.PUT("/api/v1/authorizationpolicies/default/dup", json)
                .contentType(MediaType.APPLICATION_JSON)));
        HttpClientResponseException inYaml = failure(admin(HttpRequest.POST("/api/v1/apply", yaml).contentType(ApiFormat.YAML)));

        for (HttpClientResponseException refused : List.of(inJson, inYaml)) {
            assertThat(refused.getStatus().getCode()).isEqualTo(HttpStatus.BAD_REQUEST.getCode());
            assertThat(body(refused).toString()).contains("Duplicate field 'action'");
        }
        assertThat(failure(adminGet("/api/v1/authorizationpolicies/default/dup")).getStatus().getCode())
                .isEqualTo(HttpStatus.NOT_FOUND.getCode());
    }

    @Test
    void validationNamesEveryBadFieldAndChangesNothing() throws IOException {
        String bad = """
                kind: TrafficPolicy
                metadata: {name: inventory, namespace: default}
                spec:
                  service: inventory
                  retries: {attempts: -1, backoff: {base: 100ms, max: 10ms}}
                  circuitBreaker: {failureRatio: 1.5}
                  loadBalancer: FASTEST
                """;
        HttpClientResponseException e = failure(admin(HttpRequest.PUT("/api/v1/trafficpolicies/default/inventory", bad)
                .contentType(ApiFormat.YAML)));
        assertThat(e.getStatus().getCode()).isEqualTo(HttpStatus.BAD_REQUEST.getCode());
        assertThat(body(e).at("/fields/0/message").asText()).contains("FASTEST").contains("LEAST_REQUEST");

        String badValues = bad.replace("  loadBalancer: FASTEST\n", "");
        JsonNode errors = body(failure(admin(HttpRequest.PUT("/api/v1/trafficpolicies/default/inventory", badValues)
                .contentType(ApiFormat.YAML))));
        assertThat(errors.get("message").asText())
                .contains("spec.retries.attempts: -1 (expected >= 0 and <= 10)")
                .contains("spec.retries.backoff.max: 10ms (expected >= base (100ms))")
                .contains("spec.circuitBreaker.failureRatio: 1.5 (expected > 0 and <= 1)");

        JsonNode badPorts = body(failure(admin(HttpRequest.PUT("/api/v1/trafficpolicies/default/inventory",
                "kind: TrafficPolicy\nmetadata: {name: inventory}\nspec: {service: inventory, ports: [{port: 6379, protocol: TCP},"
                        + " {port: 6379, protocol: TCP}, {port: 70000, protocol: TCP}, {port: 5432}]}")
                .contentType(ApiFormat.YAML))));
        assertThat(badPorts.get("message").asText())
                .contains("spec.ports[1].port: 6379 (expected a port not declared twice)")
                .contains("spec.ports[2].port: 70000 (expected 1-65535)")
                .contains("spec.ports[3].protocol: missing (expected TCP)");

        JsonNode unknown = body(failure(admin(HttpRequest.PUT("/api/v1/trafficpolicies/default/inventory",
                "kind: TrafficPolicy\nmetadata: {name: inventory}\nspec: {service: inventory, retrys: {}}")
                .contentType(ApiFormat.YAML))));
        assertThat(unknown.at("/fields/0/field").asText()).isEqualTo("spec.retrys");
        assertThat(unknown.at("/fields/0/message").asText()).startsWith("unknown field");

        assertThat(failure(adminGet("/api/v1/trafficpolicies/default/inventory")).getStatus().getCode())
                .isEqualTo(HttpStatus.NOT_FOUND.getCode());
    }

    @Test
    void aRouteRegexMustBeRe2AndItsFieldIsNamed() throws IOException {
        // Sidecars match route regexes with RE2 (linear time): what RE2 cannot run (backreferences, lookaround) is
        // refused here, not NACKed by every sidecar.
        for (String regex : new String[] {"/(a)\\1", "/(?=a)b"}) {
            String doc = "kind: Route\nmetadata: {name: r}\nspec: {service: s, rules: [{match: {path: {regex: '" + regex + "'}}}]}";
            JsonNode errors = body(failure(admin(HttpRequest.PUT("/api/v1/routes/default/r", doc).contentType(ApiFormat.YAML))));
            assertThat(errors.at("/fields/0/field").asText()).as(regex).isEqualTo("spec.rules[0].match.path.regex");
            assertThat(errors.at("/fields/0/message").asText()).contains("RE2");
        }
        String fine = "kind: Route\nmetadata: {name: r}\nspec: {service: s, rules: [{match: {path: {regex: '/(a+)+$'}}}]}";
        assertThat(exchange(admin(HttpRequest.PUT("/api/v1/routes/default/r", fine).contentType(ApiFormat.YAML)))
                .at("/spec/rules/0/match/path/regex").asText()).isEqualTo("/(a+)+$");
    }

    @Test
    void aNullInAListIsRefusedByItsPath() throws IOException {
        // Found by ResourceCodecFuzzTest: "paths: [null]" was bound as a hole and crashed the defaults with a 500.
        for (String rules : new String[] {"[{to: {paths: [null]}}]", "[{from: [~], to: {methods: [GET]}}]"}) {
            String doc = "kind: AuthorizationPolicy\nmetadata: {name: a}\nspec: {service: s, action: DENY, rules: " + rules + "}";
            HttpClientResponseException refused = failure(admin(HttpRequest.PUT("/api/v1/authorizationpolicies/default/a", doc)
                    .contentType(ApiFormat.YAML)));
            assertThat(refused.getStatus().getCode()).as(rules).isEqualTo(HttpStatus.BAD_REQUEST.getCode());
            assertThat(body(refused).at("/fields/0/field").asText()).as(rules)
                    .isIn("spec.rules[0].to.paths[0]", "spec.rules[0].from[0]");
        }
        assertThat(failure(adminGet("/api/v1/authorizationpolicies/default/a")).getStatus().getCode())
                .isEqualTo(HttpStatus.NOT_FOUND.getCode());
    }

    @Test
    void kafkaResourcesAreValidatedFieldByField() throws IOException {
        JsonNode subscription = body(failure(admin(HttpRequest.PUT("/api/v1/subscriptions/default/bad", """
                kind: Subscription
                metadata: {name: bad, namespace: default}
                spec: {service: notifications, topics: ["orders", "no spaces"], path: events, maxInFlight: 0, timeout: 50ms}
                """).contentType(ApiFormat.YAML))));
        assertThat(subscription.get("message").asText())
                .contains("spec.topics[1]: 'no spaces' (expected a Kafka topic name")
                .contains("spec.path: 'events' (expected an absolute path")
                .contains("spec.maxInFlight: 0 (expected >= 1 and <= 1024)")
                .contains("spec.timeout: 50ms (expected between 100ms and 10m)");
        JsonNode topicPolicy = body(failure(admin(HttpRequest.PUT("/api/v1/topicpolicies/default/bad", """
                kind: TopicPolicy
                metadata: {name: bad, namespace: default}
                spec: {topics: ["pay ments*"], publishers: ["billing"]}
                """).contentType(ApiFormat.YAML))));
        assertThat(topicPolicy.get("message").asText()).contains("spec.topics[0]: 'pay ments*'")
                .contains("spec.publishers[0]: 'billing' (expected *, a SPIFFE ID");
        JsonNode good = exchange(admin(HttpRequest.PUT("/api/v1/topicpolicies/default/payments", """
                kind: TopicPolicy
                metadata: {name: payments, namespace: default}
                spec: {topics: ["payments.*"], publishers: ["spiffe://cluster.local/ns/default/sa/billing"]}
                """).contentType(ApiFormat.YAML)));
        assertThat(good.at("/spec/publishers/0").asText()).isEqualTo("spiffe://cluster.local/ns/default/sa/billing");
    }

    @Test
    void staleResourceVersionGetsConflictAndLeavesTheCurrentOne() throws IOException {
        String policy = "kind: TrafficPolicy\nmetadata: {name: orders, namespace: default%s}\nspec: {service: orders}";
        JsonNode first = exchange(admin(HttpRequest.PUT("/api/v1/trafficpolicies/default/orders", policy.formatted(""))
                .contentType(ApiFormat.YAML)));
        String v1 = first.at("/metadata/resourceVersion").asText();
        exchange(admin(HttpRequest.PUT("/api/v1/trafficpolicies/default/orders",
                policy.formatted(", resourceVersion: \"" + v1 + "\"")).contentType(ApiFormat.YAML)));

        HttpClientResponseException stale = failure(admin(HttpRequest.PUT("/api/v1/trafficpolicies/default/orders",
                policy.formatted(", resourceVersion: \"" + v1 + "\"").replace("service: orders}",
                        "service: orders, loadBalancer: RANDOM}")).contentType(ApiFormat.YAML)));
        assertThat(stale.getStatus().getCode()).isEqualTo(HttpStatus.CONFLICT.getCode());
        assertThat(body(stale).get("message").asText()).contains("resourceVersion " + v1 + " is stale");
        assertThat(exchange(adminGet("/api/v1/trafficpolicies/default/orders")).at("/spec/loadBalancer").asText())
                .isEqualTo("LEAST_REQUEST");

        assertThat(failure(admin(HttpRequest.DELETE("/api/v1/trafficpolicies/default/orders?resourceVersion=" + v1)))
                .getStatus().getCode()).isEqualTo(HttpStatus.CONFLICT.getCode());
    }

    @Test
    void mutationsRequireTheAdminToken() throws IOException {
        String doc = "kind: Route\nmetadata: {name: r}\nspec: {service: s, rules: [{}]}";
        HttpClientResponseException none = failure(HttpRequest.PUT("/api/v1/routes/default/r", doc).contentType(ApiFormat.YAML));
        assertThat(none.getStatus().getCode()).isEqualTo(HttpStatus.UNAUTHORIZED.getCode());
        assertThat(none.getResponse().getHeaders().get("WWW-Authenticate")).startsWith("Bearer");

        HttpClientResponseException wrong = failure(HttpRequest.PUT("/api/v1/routes/default/r", doc)
                .contentType(ApiFormat.YAML).bearerAuth("not-the-token-at-all"));
        assertThat(wrong.getStatus().getCode()).isEqualTo(HttpStatus.FORBIDDEN.getCode());
        assertThat(failure(HttpRequest.POST("/api/v1/tokens", "{}").contentType(MediaType.APPLICATION_JSON)).getStatus().getCode())
                .isEqualTo(HttpStatus.UNAUTHORIZED.getCode());
        assertThat(failure(HttpRequest.POST("/api/v1/ca/rotate", "")).getStatus().getCode()).isEqualTo(HttpStatus.UNAUTHORIZED.getCode());
        assertThat(failure(adminGet("/api/v1/routes/default/r")).getStatus().getCode()).isEqualTo(HttpStatus.NOT_FOUND.getCode());
    }

    @Test
    void everyReadButTheTrustBundleNeedsAToken() {
        for (String path : new String[] {"/api/v1/proxies", "/api/v1/services", "/api/v1/certificates", "/api/v1/ca",
                "/api/v1/routes", "/api/v1/meshconfigs/default", "/api/v1/viewertokens"}) {
            HttpClientResponseException none = failure(HttpRequest.GET(path));
            assertThat(none.getStatus().getCode()).as(path).isEqualTo(HttpStatus.UNAUTHORIZED.getCode());
            assertThat(body(none).get("error").asText()).isEqualTo("unauthenticated");
            assertThat(failure(HttpRequest.GET(path).bearerAuth("trellis-vt.0123.guessed")).getStatus().getCode())
                    .as(path).isEqualTo(HttpStatus.FORBIDDEN.getCode());
        }
        assertThat(http.toBlocking().retrieve("/api/v1/ca/bundle")).startsWith("-----BEGIN CERTIFICATE-----");
    }

    @Test
    void aViewerTokenReadsButNeverChangesTheMeshAndStopsWhenRevoked() throws IOException {
        JsonNode minted = exchange(admin(HttpRequest.POST("/api/v1/viewertokens", "{\"name\":\"dashboard\",\"ttl\":\"1h\"}")
                .contentType(MediaType.APPLICATION_JSON)));
        String viewer = minted.get("token").asText();
        assertThat(viewer).startsWith("trellis-vt." + minted.get("id").asText() + ".");
        assertThat(exchange(HttpRequest.GET("/api/v1/proxies").bearerAuth(viewer)).has("items")).isTrue();
        assertThat(http.toBlocking().exchange(HttpRequest.GET("/api/v1/routes").bearerAuth(viewer), String.class)
                .getStatus().getCode()).isEqualTo(200);

        String doc = "kind: Route\nmetadata: {name: r}\nspec: {service: s, rules: [{}]}";
        HttpClientResponseException write = failure(HttpRequest.PUT("/api/v1/routes/default/r", doc)
                .contentType(ApiFormat.YAML).bearerAuth(viewer));
        assertThat(write.getStatus().getCode()).isEqualTo(HttpStatus.FORBIDDEN.getCode());
        assertThat(body(write).get("message").asText()).contains("only read");
        assertThat(failure(HttpRequest.POST("/api/v1/viewertokens", "{\"name\":\"more\"}")
                .contentType(MediaType.APPLICATION_JSON).bearerAuth(viewer)).getStatus().getCode()).isEqualTo(403);
        assertThat(failure(HttpRequest.GET("/api/v1/viewertokens").bearerAuth(viewer)).getStatus().getCode()).isEqualTo(403);
        assertThat(failure(HttpRequest.GET("/api/v1/routes").bearerAuth(viewer + "x")).getStatus().getCode()).isEqualTo(403);

        JsonNode listed = exchange(adminGet("/api/v1/viewertokens"));
        assertThat(listed.toString()).contains("\"name\":\"dashboard\"").doesNotContain(viewer.substring(24))
                .doesNotContain("secret");
        assertThat(http.toBlocking().exchange(admin(HttpRequest.DELETE("/api/v1/viewertokens/" + minted.get("id").asText())))
                .getStatus().getCode()).isEqualTo(204);
        HttpClientResponseException revoked = failure(HttpRequest.GET("/api/v1/proxies").bearerAuth(viewer));
        assertThat(revoked.getStatus().getCode()).isEqualTo(HttpStatus.FORBIDDEN.getCode());
        assertThat(body(revoked).get("message").asText()).contains("revoked");
        assertThat(failure(admin(HttpRequest.DELETE("/api/v1/viewertokens/" + minted.get("id").asText()))).getStatus()
                .getCode()).isEqualTo(HttpStatus.NOT_FOUND.getCode());

        JsonNode bad = body(failure(admin(HttpRequest.POST("/api/v1/viewertokens",
                "{\"name\":\"Dash Board\",\"ttl\":\"9999h\",\"role\":\"admin\"}").contentType(MediaType.APPLICATION_JSON))));
        assertThat(bad.toString()).contains("\"field\":\"name\"").contains("\"field\":\"ttl\"").contains("\"field\":\"role\"");
    }

    @Test
    void applyTakesMultiDocumentYamlAllOrNothing() throws IOException {
        String docs = """
                kind: ExternalService
                metadata: {name: payments, namespace: shop}
                spec: {service: payments-legacy, endpoints: [{address: 127.0.0.1, port: 8443}]}
                ---
                kind: Subscription
                metadata: {name: notifications-orders, namespace: shop}
                spec: {service: notifications, topics: [orders], path: /events}
                """;
        JsonNode applied = exchange(admin(HttpRequest.POST("/api/v1/apply", docs).contentType(ApiFormat.YAML)));
        assertThat(applied.get("items").size()).isEqualTo(2);
        assertThat(applied.at("/items/0/spec/tls/mode").asText()).isEqualTo("SIMPLE");
        assertThat(applied.at("/items/1/spec/consumerGroup").asText()).isEqualTo("notifications");
        assertThat(applied.at("/items/1/spec/maxInFlight").asInt()).isEqualTo(16);

        String oneBad = docs.replace("name: notifications-orders", "name: second").replace("topics: [orders]", "topics: [\"bad topic\"]")
                + "---\nkind: Route\nmetadata: {name: fresh, namespace: shop}\nspec: {service: x, rules: [{}]}\n";
        JsonNode errors = body(failure(admin(HttpRequest.POST("/api/v1/apply", oneBad).contentType(ApiFormat.YAML))));
        assertThat(errors.at("/fields/0/field").asText()).isEqualTo("documents[1].spec.topics[0]");
        assertThat(failure(adminGet("/api/v1/routes/shop/fresh")).getStatus().getCode()).isEqualTo(HttpStatus.NOT_FOUND.getCode());
        assertThat(failure(adminGet("/api/v1/subscriptions/shop/second")).getStatus().getCode()).isEqualTo(HttpStatus.NOT_FOUND.getCode());

        JsonNode services = exchange(adminGet("/api/v1/services"));
        assertThat(services.get("items").toString()).contains("payments-legacy");
    }

    @Test
    void oversizedBodyIsRefusedWith413() throws IOException {
        String huge = "kind: Route\nmetadata: {name: big}\nspec: {service: s, rules: [{}]}\n#" + "x".repeat(2 << 20);
        HttpClientResponseException e = failure(admin(HttpRequest.PUT("/api/v1/routes/default/big", huge)
                .contentType(ApiFormat.YAML)));
        assertThat(e.getStatus().getCode()).isEqualTo(HttpStatus.REQUEST_ENTITY_TOO_LARGE.getCode());
    }

    @Test
    void mintsJoinTokensWithValidation() throws IOException {
        JsonNode minted = exchange(admin(HttpRequest.POST("/api/v1/tokens",
                "{\"namespace\":\"default\",\"serviceAccount\":\"web\",\"ttl\":\"10m\",\"singleUse\":true}")
                .contentType(MediaType.APPLICATION_JSON)));
        assertThat(minted.get("token").asText()).startsWith("trellis-jt.");
        assertThat(minted.get("identity").asText()).isEqualTo("spiffe://cluster.local/ns/default/sa/web");

        JsonNode bad = body(failure(admin(HttpRequest.POST("/api/v1/tokens",
                "{\"namespace\":\"Default\",\"serviceAccount\":\"web\",\"ttl\":\"9999h\"}").contentType(MediaType.APPLICATION_JSON))));
        assertThat(bad.get("message").asText()).contains("namespace: 'Default'").contains("ttl: '9999h'");
        assertThat(http.toBlocking().retrieve("/api/v1/ca/bundle")).startsWith("-----BEGIN CERTIFICATE-----");
    }

    @Test
    void theInjectorWebhookIsNotServedUnlessItIsEnabled() {
        HttpClientResponseException e = failure(HttpRequest.POST("/inject", "{}").contentType(MediaType.APPLICATION_JSON_TYPE));
        assertThat(e.getStatus().getCode()).isEqualTo(404);
    }

    @Test
    void aScriptThatAcceptsPlainTextGetsTheBareToken() throws IOException {
        String join = http.toBlocking().retrieve(admin(HttpRequest.POST("/api/v1/tokens",
                "{\"namespace\":\"default\",\"serviceAccount\":\"web\"}").contentType(MediaType.APPLICATION_JSON)
                .accept(MediaType.TEXT_PLAIN_TYPE)));
        String viewer = http.toBlocking().retrieve(admin(HttpRequest.POST("/api/v1/viewertokens",
                "{\"name\":\"script\"}").contentType(MediaType.APPLICATION_JSON).accept(MediaType.TEXT_PLAIN_TYPE)));

        assertThat(join).matches("trellis-jt\\.[^\\s\"{}]+\n");
        assertThat(viewer).matches("trellis-vt\\.[^\\s\"{}]+\n");
    }

    @Test
    void caRotationTrustsTheNewRootThenSwitchesSigningWhenNoProxyLagsBehind() throws Exception {
        String before = http.toBlocking().retrieve("/api/v1/ca/bundle");
        JsonNode started = exchange(admin(HttpRequest.POST("/api/v1/ca/rotate", "")));
        assertThat(started.get("phase").asText()).isEqualTo("TRUSTING_NEW_ROOT");
        String pending = started.get("pending").asText();
        assertThat(http.toBlocking().retrieve("/api/v1/ca/bundle")).startsWith(before.strip()).hasSizeGreaterThan(before.length());
        assertThat(failure(admin(HttpRequest.POST("/api/v1/ca/rotate", ""))).getStatus().getCode())
                .isEqualTo(HttpStatus.CONFLICT.getCode());

        // No proxy is connected, so nobody has to ACK the new bundle: the next maintenance tick switches.
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
        JsonNode state = exchange(adminGet("/api/v1/ca"));
        while (!state.get("phase").asText().equals("RETIRING_OLD_ROOT") && System.nanoTime() < deadline) {
            java.util.concurrent.TimeUnit.MILLISECONDS.sleep(50);
            state = exchange(adminGet("/api/v1/ca"));
        }
        assertThat(state.get("signing").asText()).isEqualTo(pending);
        assertThat(state.get("trusted").size()).isEqualTo(2);
        assertThat(state.get("retireAfter").asText()).isNotEmpty();
    }

    @Test
    void servesTheOpenApiDocumentCoveringEveryPath() {
        String openapi = http.toBlocking().retrieve("/openapi.yml");
        assertThat(openapi).startsWith("openapi: 3");
        for (String path : new String[] {"/api/v1/{plural}", "/api/v1/{plural}/{namespace}/{name}", "/api/v1/apply",
                "/api/v1/services", "/api/v1/proxies", "/api/v1/certificates", "/api/v1/tokens", "/api/v1/ca/bundle",
                "/api/v1/ca/rotate", "/api/v1/meshconfigs/default", "/api/v1/viewertokens", "/api/v1/viewertokens/{id}"}) {
            assertThat(openapi).as(path).contains("  " + path + ":");
        }
        assertThatThrownBy(() -> http.toBlocking().retrieve("/api/v1/nonsense")).isInstanceOf(HttpClientResponseException.class);
    }
}
