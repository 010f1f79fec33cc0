package io.trellis.sidecar.inbound;

import io.trellis.certs.PeerCertificateVerifier;
import io.trellis.certs.PeerVerificationException;
import io.trellis.certs.SpiffeId;
import io.trellis.sidecar.config.MeshSettings;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.pipeline.Stage;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLPeerUnverifiedException;
import org.apache.pekko.http.javadsl.model.AttributeKeys;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.SslSessionInfo;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;

/** The inbound stages before the app: identity and header sanitising, then authorization. */
final class InboundStages {
    /** The header carrying the verified caller identity to the app. */
    static final String PEER_IDENTITY = "trellis-peer-identity";
    /** Identity headers a caller could forge; always removed before the verified value is added. */
    private static final List<String> IDENTITY_HEADERS = List.of(PEER_IDENTITY, "x-forwarded-client-cert");

    private InboundStages() {
    }

    /**
     * Establishes who is calling: the URI SAN of the verified client certificate (the TLS layer already
     * checked the chain against the trust bundle). STRICT mode refuses callers without one. Forged identity
     * headers are replaced by the verified value; the path is normalised ({@code pathCase}: whether the app tells
     * case apart).
     */
    static Stage<InboundCall> peerIdentity(PathCase pathCase) {
        return (call, next) -> {
            HttpRequest request = call.request();
            SpiffeId peer = call.overTls() ? verifiedPeer(request) : null;
            if (peer == null && call.table().mesh().mtls() == MeshSettings.MtlsMode.STRICT) {
                throw new ProxyException(ProxyError.DENIED, call.overTls()
                        ? "mTLS required: the caller presented no client certificate"
                        : "mTLS required: plaintext is not accepted (mesh mTLS mode is STRICT)");
            }
            for (String name : IDENTITY_HEADERS) {
                request = request.removeHeader(name);
            }
            if (peer != null) {
                request = request.addHeader(RawHeader.create(PEER_IDENTITY, peer.toString()));
            }
            String path = PathNormalizer.normalise(rawPath(call.request()), pathCase);
            if (!path.equals(request.getUri().path())) {
                request = request.withUri(request.getUri().path(path));
            }
            return next.handle(call.identified(request, peer, path));
        };
    }

    /** Applies the service's AuthorizationPolicies. */
    static Stage<InboundCall> authorization() {
        return (call, next) -> {
            Optional<String> denial = Authorizer.denial(call.table().inbound(), call.peer(), call.request().method().value(),
                    call.path());
            if (denial.isPresent()) {
                throw new ProxyException(ProxyError.DENIED, denial.get());
            }
            return next.handle(call);
        };
    }

    private static SpiffeId verifiedPeer(HttpRequest request) {
        Optional<SslSessionInfo> session = request.getAttribute(AttributeKeys.sslSession);
        if (session.isEmpty()) {
            return null;
        }
        try {
            Certificate[] chain = session.get().getSession().getPeerCertificates();
            return chain.length == 0 ? null : PeerCertificateVerifier.uriSanIdentity((X509Certificate) chain[0]);
        } catch (SSLPeerUnverifiedException e) {
            return null;
        } catch (PeerVerificationException e) {
            throw new ProxyException(ProxyError.DENIED, "client certificate has no usable SPIFFE ID: " + e.getMessage());
        }
    }

    /** The path as sent, before Pekko's decoding: from the Raw-Request-URI header when present. */
    private static String rawPath(HttpRequest request) {
        String raw = request.getHeader("Raw-Request-URI").map(HttpHeader::value).orElse(null);
        if (raw == null) {
            return request.getUri().path();
        }
        int schemeEnd = raw.indexOf("://");
        if (schemeEnd >= 0) {
            int pathStart = raw.indexOf('/', schemeEnd + 3);
            raw = pathStart < 0 ? "/" : raw.substring(pathStart);
        }
        int query = raw.indexOf('?');
        return query < 0 ? raw : raw.substring(0, query);
    }
}
