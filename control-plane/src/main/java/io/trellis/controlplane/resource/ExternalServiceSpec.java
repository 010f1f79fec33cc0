package io.trellis.controlplane.resource;

import java.util.List;
import java.util.regex.Pattern;

/** A service outside the mesh (no sidecar): fixed endpoints, reached in plaintext or over TLS. */
public record ExternalServiceSpec(String service, List<Endpoint> endpoints, Tls tls) implements Spec {
    private static final Pattern HOST = Pattern.compile("[A-Za-z0-9]([-A-Za-z0-9.]{0,251}[A-Za-z0-9])?|\\[[0-9a-fA-F:.]+\\]|[0-9a-fA-F:.]+");

    /** A host name or IP address and port. */
    public record Endpoint(String address, Integer port) {
    }

    /** DISABLE: plaintext; SIMPLE: TLS with the server verified against the system trust store. */
    public enum TlsMode { DISABLE, SIMPLE }

    /** How the sidecar talks to the endpoints; {@code sni} defaults to the endpoint's address. */
    public record Tls(TlsMode mode, String sni) {
    }

    @Override
    public ExternalServiceSpec withDefaults() {
        return new ExternalServiceSpec(service, endpoints == null ? null : List.copyOf(endpoints),
                tls == null ? new Tls(TlsMode.SIMPLE, null) : new Tls(Spec.or(tls.mode(), TlsMode.SIMPLE), tls.sni()));
    }

    @Override
    public void validate(Validation v) {
        v.dnsLabel(service, "spec.service");
        if (v.required(endpoints, "spec.endpoints", "at least one endpoint")) {
            for (int i = 0; i < endpoints.size(); i++) {
                Endpoint e = endpoints.get(i);
                String at = "spec.endpoints[" + i + "]";
                if (v.required(e.address(), at + ".address", "a host name or IP address")) {
                    v.check(HOST.matcher(e.address()).matches(), at + ".address", e.address(), "a host name or IP address");
                }
                if (v.required(e.port(), at + ".port", "1-65535")) {
                    v.check(e.port() >= 1 && e.port() <= 65535, at + ".port", e.port(), "1-65535");
                }
            }
        }
    }
}
