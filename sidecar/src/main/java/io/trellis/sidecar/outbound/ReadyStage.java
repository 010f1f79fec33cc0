package io.trellis.sidecar.outbound;

import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.identity.WorkloadIdentity;
import io.trellis.sidecar.pipeline.Stage;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/** Fails fast with {@code identity-unavailable} until this sidecar has a certificate and a first snapshot. */
final class ReadyStage implements Stage<OutboundCall> {
    private final WorkloadIdentity identity;

    ReadyStage(WorkloadIdentity identity) {
        this.identity = identity;
    }

    @Override
    public CompletionStage<HttpResponse> apply(OutboundCall call, Next<OutboundCall> next) {
        if (!identity.isIssued()) {
            throw new ProxyException(ProxyError.IDENTITY_UNAVAILABLE, "this sidecar has no valid certificate yet");
        }
        if (call.table() == null) {
            throw new ProxyException(ProxyError.IDENTITY_UNAVAILABLE, "this sidecar has no configuration from the control plane yet");
        }
        return next.handle(call);
    }
}
