package io.trellis.sidecar.pipeline;

import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.identity.WorkloadIdentity;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * Fails fast with {@code identity-unavailable} until this sidecar has a valid certificate and a first snapshot,
 * in either direction.
 *
 * @param <C> the direction's call type
 */
public final class ReadyStage<C extends Call> implements Stage<C> {
    private final WorkloadIdentity identity;

    /** A stage checking {@code identity}. */
    public ReadyStage(WorkloadIdentity identity) {
        this.identity = identity;
    }

    @Override
    public CompletionStage<HttpResponse> apply(C call, Next<C> next) {
        if (!identity.isIssued()) {
            throw new ProxyException(ProxyError.IDENTITY_UNAVAILABLE, "this sidecar has no valid certificate yet");
        }
        if (call.table() == null) {
            throw new ProxyException(ProxyError.IDENTITY_UNAVAILABLE, "this sidecar has no configuration from the control plane yet");
        }
        return next.handle(call);
    }
}
