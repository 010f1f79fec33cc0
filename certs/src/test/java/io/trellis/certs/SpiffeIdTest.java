package io.trellis.certs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class SpiffeIdTest {
    @Test
    void parsesWorkloadIdentity() {
        SpiffeId id = SpiffeId.parse("spiffe://cluster.local/ns/default/sa/web");
        assertThat(id.trustDomain()).isEqualTo("cluster.local");
        assertThat(id.isWorkload()).isTrue();
        assertThat(id.namespace()).isEqualTo("default");
        assertThat(id.serviceAccount()).isEqualTo("web");
        assertThat(id).isEqualTo(SpiffeId.forWorkload("cluster.local", "default", "web"));
        assertThat(id.toString()).isEqualTo("spiffe://cluster.local/ns/default/sa/web");
    }

    @Test
    void acceptsTrustDomainOnlyIdentity() {
        assertThat(SpiffeId.parse("spiffe://example.org").segments()).isEmpty();
    }

    @ParameterizedTest(name = "[{index}] {1}")
    @CsvSource(delimiter = '|', value = {
        "''|empty",
        "http://cluster.local/ns/a/sa/b|must start with 'spiffe://'",
        "SPIFFE://cluster.local/ns/a/sa/b|must start with 'spiffe://'",
        "spiffe://Cluster.local/ns/a/sa/b|must be lower case",
        "spiffe://cluster.local:8443/ns/a/sa/b|may hold only",
        "spiffe://user@cluster.local/ns/a/sa/b|may hold only",
        "spiffe:///ns/a/sa/b|trust domain is empty",
        "spiffe://cluster.local/|must not end with '/'",
        "spiffe://cluster.local/ns//sa/b|empty segment",
        "spiffe://cluster.local/ns/./sa/b|'.' segment",
        "spiffe://cluster.local/ns/../sa/b|'..' segment",
        "spiffe://cluster.local/ns/a%2Fb/sa/c|percent-encoding",
        "spiffe://cluster.local/ns/a/sa/b?x=1|'?'",
        "spiffe://cluster.local/ns/a/sa/b#frag|'#'",
    })
    void rejectsMalformedIds(String value, String reason) {
        assertThatThrownBy(() -> SpiffeId.parse(value))
                .isInstanceOf(InvalidSpiffeIdException.class)
                .hasMessageContaining(reason);
    }

    @Test
    void rejectsNulAndControlCharacters() {
        assertThatThrownBy(() -> SpiffeId.parse("spiffe://cluster.local/ns/a/sa/b\0.evil"))
                .hasMessageContaining("control");
        assertThatThrownBy(() -> SpiffeId.parse("spiffe://cluster.local/ns/a/sa/b\n"))
                .hasMessageContaining("control");
        assertThatThrownBy(() -> SpiffeId.parse("spiffe://cluster.local/ns/a/sa/b c"))
                .hasMessageContaining("control");
    }

    @Test
    void rejectsOverlongIds() {
        assertThatThrownBy(() -> SpiffeId.parse("spiffe://td/" + "a".repeat(2100)))
                .hasMessageContaining("longer than 2048");
    }

    @Test
    void workloadAccessorsRefuseOtherShapes() {
        SpiffeId id = SpiffeId.parse("spiffe://cluster.local/region/eu");
        assertThat(id.isWorkload()).isFalse();
        assertThatThrownBy(id::namespace).isInstanceOf(IllegalStateException.class);
    }
}
