package io.trellis.sidecar.outbound;

import io.trellis.sidecar.balance.WeightedRandom;
import io.trellis.sidecar.config.Cluster;
import io.trellis.sidecar.config.RouteRule;
import io.trellis.sidecar.config.StringMatcher;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.pipeline.Stage;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.Host;

/**
 * Finds where an outbound request goes: the destination service from the declared upstream port, the
 * absolute-form URI (HTTP proxy mode) or {@code Host}/{@code :authority}; then the first route rule of that
 * service matching path, headers and method; then one of the rule's backends (subsets) by weight, which every
 * attempt of the request keeps to (a canary split counts requests, not attempts).
 */
final class RouteStage implements Stage<OutboundCall> {
    private final String namespace;
    private final ClusterRuntimes runtimes;
    private final WeightedRandom split;

    /** Routes short names ({@code inventory}) within {@code namespace}, the app's own. */
    RouteStage(String namespace, ClusterRuntimes runtimes, WeightedRandom split) {
        this.namespace = namespace;
        this.runtimes = runtimes;
        this.split = split;
    }

    @Override
    public CompletionStage<HttpResponse> apply(OutboundCall call, Next<OutboundCall> next) {
        HttpRequest request = call.request();
        if (request.method().equals(HttpMethods.CONNECT)) {
            throw new ProxyException(ProxyError.BAD_REQUEST,
                    "CONNECT tunnels are not supported: call http://SERVICE/... and the sidecar adds mTLS");
        }
        String host = call.fixedService() != null ? call.fixedService() : destinationHost(request)
                .orElseThrow(() -> new ProxyException(ProxyError.BAD_REQUEST, "no Host header or :authority to route by"));
        Cluster cluster = call.table().resolve(host, namespace)
                .orElseThrow(() -> new ProxyException(ProxyError.NO_ROUTE, "no service '" + host + "' in the mesh"));
        call.context().service(cluster.name().name());
        String path = request.getUri().path();
        for (RouteRule rule : call.table().rulesFor(cluster.name())) {
            if (matches(rule, request, path)) {
                RouteRule.WeightedBackend backend = split.choose(rule.backends(), RouteRule.WeightedBackend::weight);
                return next.handle(call.routed(cluster, rule, backend, runtimes.of(cluster)));
            }
        }
        throw new ProxyException(ProxyError.NO_ROUTE, "no route rule of " + cluster.name() + " matches "
                + request.method().value() + " " + path);
    }

    /** The destination host, without port: absolute-form URI first, then the Host header. */
    static Optional<String> destinationHost(HttpRequest request) {
        String fromUri = request.getUri().host().address();
        if (!fromUri.isEmpty()) {
            return Optional.of(fromUri);
        }
        return request.getHeader(Host.class).map(h -> h.host().address()).filter(h -> !h.isEmpty());
    }

    private static boolean matches(RouteRule rule, HttpRequest request, String path) {
        if (rule.path() != null && !rule.path().matches(path)) {
            return false;
        }
        if (!rule.methods().isEmpty() && !rule.methods().contains(request.method().value())) {
            return false;
        }
        for (Map.Entry<String, StringMatcher> header : rule.headers().entrySet()) {
            Optional<String> value = request.getHeader(header.getKey()).map(HttpHeader::value);
            if (value.isEmpty() || !header.getValue().matches(value.get())) {
                return false;
            }
        }
        return true;
    }
}
