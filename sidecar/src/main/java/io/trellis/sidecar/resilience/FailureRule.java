package io.trellis.sidecar.resilience;

import io.trellis.sidecar.errors.ErrorResponses;
import io.trellis.sidecar.errors.ProxyError;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * What counts as an upstream's failure, for outlier detection and the circuit breaker. Failures of the sidecar's
 * own making below the balancer ({@code overloaded}) are not the endpoint's fault and count as neither.
 */
public final class FailureRule {
    private FailureRule() {
    }

    /** A gateway error: 502, 503 or 504, or no usable answer (connect failure, reset, attempt timeout). */
    public static boolean gatewayError(HttpResponse response, Throwable failure) {
        if (failure != null) {
            ProxyError error = ErrorResponses.asProxyException(failure).error();
            return error == ProxyError.UPSTREAM_CONNECT_FAILURE || error == ProxyError.UPSTREAM_RESET
                    || error == ProxyError.UPSTREAM_TIMEOUT;
        }
        int status = response.status().intValue();
        return status == 502 || status == 503 || status == 504;
    }

    /**
     * A failure for the breaker, which sees a request's final outcome: a gateway error, any other 5xx, or a retry the
     * budget refused after an upstream failure. The sidecar's own refusals ({@code overloaded},
     * {@code no-healthy-endpoint}, {@code circuit-open}) are not the upstream's failures.
     */
    public static boolean failed(HttpResponse response, Throwable failure) {
        if (failure != null && ErrorResponses.asProxyException(failure).error() == ProxyError.RETRY_BUDGET_EXHAUSTED) {
            return true;
        }
        return gatewayError(response, failure) || failure == null && response.status().intValue() >= 500;
    }
}
