package io.trellis.controlplane.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.trellis.certs.Pem;
import io.trellis.controlplane.token.ServiceAccountTokens;
import io.trellis.controlplane.token.TokenRejectedException;
import io.trellis.controlplane.token.TokenReviewUnavailableException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Enrolment by service-account token, reviewed by a double of the API server over real HTTPS. */
class ServiceAccountTokensTest {
    @TempDir
    Path dir;

    private KubernetesApiDouble api;
    private ServiceAccountTokens tokens;

    @BeforeEach
    void start() throws Exception {
        api = KubernetesApiDouble.start("127.0.0.1", 0);
        api.writeCredentials(dir);
        tokens = new ServiceAccountTokens(new KubernetesApi(api.url(), Pem.decodeCertificates(Files.readString(dir.resolve("ca.crt"))),
                dir.resolve("token")), "trellis", () -> "cluster.local");
    }

    @AfterEach
    void stop() {
        api.close();
    }

    private String valid(String namespace, String serviceAccount) {
        return api.issue(namespace, serviceAccount, "trellis", Instant.now().plus(Duration.ofHours(1)));
    }

    @Test
    void theIdentityIsTheServiceAccountTheApiServerNames() throws Exception {
        assertThat(tokens.authenticate(valid("shop", "inventory")).toString())
                .isEqualTo("spiffe://cluster.local/ns/shop/sa/inventory");
        assertThat(api.reviews()).isEqualTo(1);
    }

    @Test
    void aTokenForAnotherAudienceIsRefused() {
        String kubectl = api.issue("shop", "inventory", "https://kubernetes.default.svc", Instant.now().plus(Duration.ofHours(1)));
        assertThatThrownBy(() -> tokens.authenticate(kubectl)).isInstanceOf(TokenRejectedException.class)
                .hasMessageContaining("did not authenticate").hasMessageContaining("is invalid for the target audiences");
    }

    @Test
    void anExpiredTokenIsRefused() {
        String old = api.issue("shop", "inventory", "trellis", Instant.now().minusSeconds(1));
        assertThatThrownBy(() -> tokens.authenticate(old)).isInstanceOf(TokenRejectedException.class)
                .hasMessageContaining("token has expired");
    }

    @Test
    void theTokenOfADeletedServiceAccountIsRefused() {
        String token = valid("shop", "inventory");
        api.delete("shop", "inventory");
        assertThatThrownBy(() -> tokens.authenticate(token)).isInstanceOf(TokenRejectedException.class)
                .hasMessageContaining("has been deleted");
    }

    @Test
    void aTokenTheApiServerNeverIssuedIsRefused() {
        String forged = valid("shop", "inventory").replaceAll("\\.[^.]*$", ".Zm9yZ2Vk");
        assertThatThrownBy(() -> tokens.authenticate(forged)).isInstanceOf(TokenRejectedException.class)
                .hasMessageContaining("invalid bearer token");
    }

    @Test
    void whenTheControlPlanesOwnCredentialsAreRefusedTheEnrolmentCanBeTriedAgain() throws Exception {
        Files.writeString(dir.resolve("token"), "not-the-control-plane");
        assertThatThrownBy(() -> tokens.authenticate(valid("shop", "inventory")))
                .isInstanceOf(TokenReviewUnavailableException.class).hasMessageContaining("401")
                .hasMessageContaining("tokenreviews");
    }

    @Test
    void anApiServerWhoseCertificateIsNotTrustedIsNotAsked() throws Exception {
        try (KubernetesApiDouble other = KubernetesApiDouble.start("127.0.0.1", 0)) {
            ServiceAccountTokens misled = new ServiceAccountTokens(new KubernetesApi(other.url(),
                    Pem.decodeCertificates(Files.readString(dir.resolve("ca.crt"))), dir.resolve("token")), "trellis",
                    () -> "cluster.local");
            assertThatThrownBy(() -> misled.authenticate(valid("shop", "inventory")))
                    .isInstanceOf(TokenReviewUnavailableException.class);
            assertThat(other.reviews()).isZero();
        }
    }

    @Test
    void onlyJwtShapedTokensAreSentForReview() {
        assertThat(ServiceAccountTokens.looksLikeOne(valid("shop", "inventory"))).isTrue();
        assertThat(ServiceAccountTokens.looksLikeOne("trellis-jt.abc.def")).isFalse();
        assertThat(ServiceAccountTokens.looksLikeOne("hello")).isFalse();
    }
}
