package io.trellis.controlplane.resource;

import io.trellis.certs.InvalidSpiffeIdException;
import io.trellis.certs.SpiffeId;
import java.time.Duration;
import java.util.regex.Pattern;

/**
 * Mesh-wide settings ({@code MeshConfig/default}): trust domain, mTLS mode, workload certificate
 * lifetime, the Kafka brokers sidecars bridge to, and what becomes of an app's redirected connections to
 * destinations outside the mesh ({@code outboundTrafficPolicy}, Kubernetes pods: ALLOW_ANY passes them through,
 * REGISTRY_ONLY refuses them).
 */
public record MeshConfigSpec(String trustDomain, MtlsMode mtls, Duration certificateTtl, Kafka kafka,
        OutboundTrafficPolicy outboundTrafficPolicy) implements Spec {
    /** The default trust domain. */
    public static final String DEFAULT_TRUST_DOMAIN = "cluster.local";
    /** The settings in force when no MeshConfig was ever written. */
    public static final MeshConfigSpec DEFAULTS = new MeshConfigSpec(null, null, null, null, null).withDefaults();

    private static final Pattern HOST_PORT_LIST = Pattern.compile("[A-Za-z0-9.\\-\\[\\]:]+:\\d{1,5}(,[A-Za-z0-9.\\-\\[\\]:]+:\\d{1,5})*");

    /** Whether plaintext is accepted on the inbound port. */
    public enum MtlsMode { STRICT, PERMISSIVE }

    /** Whether an app's redirected connections may reach destinations that are not in the mesh. */
    public enum OutboundTrafficPolicy { ALLOW_ANY, REGISTRY_ONLY }

    /** Brokers for the Kafka bridge; null bootstrap servers = no broker. */
    public record Kafka(String bootstrapServers) {
    }

    @Override
    public MeshConfigSpec withDefaults() {
        return new MeshConfigSpec(Spec.or(trustDomain, DEFAULT_TRUST_DOMAIN), Spec.or(mtls, MtlsMode.STRICT),
                Spec.or(certificateTtl, Duration.ofHours(24)), Spec.or(kafka, new Kafka(null)),
                Spec.or(outboundTrafficPolicy, OutboundTrafficPolicy.ALLOW_ANY));
    }

    @Override
    public void validate(Validation v) {
        try {
            SpiffeId.validateTrustDomain(trustDomain);
        } catch (InvalidSpiffeIdException e) {
            v.error("spec.trustDomain", "'" + trustDomain + "' (" + e.getMessage() + ")");
        }
        v.check(certificateTtl.compareTo(Duration.ofMinutes(10)) >= 0 && certificateTtl.compareTo(Duration.ofDays(90)) <= 0,
                "spec.certificateTtl", certificateTtl, "between 10m and 2160h");
        if (kafka.bootstrapServers() != null) {
            v.check(HOST_PORT_LIST.matcher(kafka.bootstrapServers()).matches(), "spec.kafka.bootstrapServers",
                    kafka.bootstrapServers(), "host:port[,host:port...]");
        }
    }

    @Override
    public String service() {
        return null;
    }
}
