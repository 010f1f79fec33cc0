package io.trellis.controlplane.token;

import io.trellis.certs.SpiffeId;

/**
 * What a sidecar without a certificate enrols with: a join token minted by this control plane, or, in a Kubernetes
 * cluster, its pod's projected service-account token, which the API server reviews.
 */
public final class BootstrapTokens {
    private final JoinTokenAuthenticator joinTokens;
    private final ServiceAccountTokens serviceAccounts;

    /** @param serviceAccounts null outside a Kubernetes cluster */
    public BootstrapTokens(JoinTokenAuthenticator joinTokens, ServiceAccountTokens serviceAccounts) {
        this.joinTokens = joinTokens;
        this.serviceAccounts = serviceAccounts;
    }

    /**
     * The identity {@code token} is bound to.
     *
     * @throws TokenRejectedException when it authenticates no one
     * @throws TokenReviewUnavailableException when a service-account token could not be reviewed now
     */
    public SpiffeId authenticate(String token) throws TokenRejectedException, TokenReviewUnavailableException {
        if (serviceAccounts != null && ServiceAccountTokens.looksLikeOne(token)) {
            return serviceAccounts.authenticate(token);
        }
        return joinTokens.authenticate(token);
    }
}
