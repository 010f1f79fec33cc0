package io.trellis.sidecar.inbound;

import static org.assertj.core.api.Assertions.assertThat;

import io.trellis.certs.SpiffeId;
import io.trellis.sidecar.config.InboundPolicy;
import io.trellis.sidecar.config.InboundPolicy.AuthorizationPolicy;
import io.trellis.sidecar.config.InboundPolicy.Rule;
import java.util.List;
import org.junit.jupiter.api.Test;

class AuthorizerTest {
    private static final SpiffeId WEB = SpiffeId.parse("spiffe://cluster.local/ns/default/sa/web");
    private static final SpiffeId OPS = SpiffeId.parse("spiffe://cluster.local/ns/ops/sa/debugger");

    private static InboundPolicy policies(AuthorizationPolicy... policies) {
        return new InboundPolicy(List.of(policies), null);
    }

    @Test
    void withoutPoliciesEveryCallerIsAllowed() {
        assertThat(Authorizer.denial(policies(), WEB, "POST", "/anything")).isEmpty();
        assertThat(Authorizer.denial(policies(), null, "GET", "/")).isEmpty();
    }

    @Test
    void allowPolicyAdmitsOnlyMatchingCallersMethodsAndPaths() {
        InboundPolicy readers = policies(new AuthorizationPolicy("readers", true,
                List.of(new Rule(List.of(WEB.toString()), List.of("GET"), List.of("/items", "/items/*")))));

        assertThat(Authorizer.denial(readers, WEB, "GET", "/items/42")).isEmpty();
        assertThat(Authorizer.denial(readers, WEB, "GET", "/items")).isEmpty();
        assertThat(Authorizer.denial(readers, WEB, "DELETE", "/items/42")).contains("no ALLOW policy matches "
                + WEB + " DELETE /items/42");
        assertThat(Authorizer.denial(readers, WEB, "GET", "/itemsx")).isPresent();
        assertThat(Authorizer.denial(readers, OPS, "GET", "/items")).isPresent();
        assertThat(Authorizer.denial(readers, null, "GET", "/items")).isPresent();
    }

    @Test
    void denyPoliciesWinOverAllowPolicies() {
        InboundPolicy both = policies(
                new AuthorizationPolicy("everyone", true, List.of(new Rule(List.of("*"), List.of(), List.of()))),
                new AuthorizationPolicy("no-ops", false, List.of(new Rule(List.of("spiffe://cluster.local/ns/ops/*"), List.of(), List.of()))));

        assertThat(Authorizer.denial(both, WEB, "GET", "/")).isEmpty();
        assertThat(Authorizer.denial(both, OPS, "GET", "/")).contains("DENY policy no-ops matches " + OPS + " GET /");
    }

    @Test
    void wildcardIdentityStillNeedsAnIdentity() {
        InboundPolicy anyMesh = policies(new AuthorizationPolicy("mesh", true, List.of(new Rule(List.of("*"), List.of("*"), List.of()))));

        assertThat(Authorizer.denial(anyMesh, WEB, "PATCH", "/x")).isEmpty();
        assertThat(Authorizer.denial(anyMesh, null, "GET", "/x")).contains("no ALLOW policy matches a plaintext caller GET /x");
    }

    @Test
    void subtreeWildcardDoesNotMatchASiblingPrefix() {
        InboundPolicy ops = policies(new AuthorizationPolicy("ops", true,
                List.of(new Rule(List.of("spiffe://cluster.local/ns/ops/*"), List.of(), List.of()))));

        assertThat(Authorizer.denial(ops, OPS, "GET", "/")).isEmpty();
        assertThat(Authorizer.denial(ops, SpiffeId.parse("spiffe://cluster.local/ns/opsx/sa/a"), "GET", "/")).isPresent();
    }

    @Test
    void tcpConnectionsAreDeniedOnIdentityAloneAndHttpOnlyAllowRulesOpenNoTcp() {
        InboundPolicy httpOnly = policies(new AuthorizationPolicy("readers", true,
                List.of(new Rule(List.of(WEB.toString()), List.of("GET"), List.of()))));
        InboundPolicy denyOpsOnAdmin = policies(
                new AuthorizationPolicy("everyone", true, List.of(new Rule(List.of("*"), List.of(), List.of()))),
                new AuthorizationPolicy("no-ops-admin", false,
                        List.of(new Rule(List.of("spiffe://cluster.local/ns/ops/*"), List.of(), List.of("/admin")))));

        assertThat(Authorizer.tcpDenial(policies(), WEB, 6379)).isEmpty();
        assertThat(Authorizer.tcpDenial(httpOnly, WEB, 6379)).contains("no ALLOW policy matches " + WEB + " to TCP port 6379");
        assertThat(Authorizer.tcpDenial(denyOpsOnAdmin, WEB, 6379)).isEmpty();
        assertThat(Authorizer.tcpDenial(denyOpsOnAdmin, OPS, 6379)).contains("DENY policy no-ops-admin matches " + OPS
                + " to TCP port 6379");
    }
}
