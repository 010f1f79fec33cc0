package io.trellis.controlplane.push;

import io.trellis.certs.PeerCertificateVerifier;
import io.trellis.certs.PeerVerificationException;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Optional;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.apache.pekko.http.javadsl.model.AttributeKeys;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;

/**
 * Carries the caller's verified SPIFFE ID from the TLS session, and the connection's remote address, to the gRPC
 * service as request headers. Whatever the client sent under those names is removed first, so the headers can only
 * ever hold what the handshake and the socket proved.
 */
final class PeerIdentity {
    /** The header name (DESIGN.md §3). */
    static final String HEADER = "trellis-peer-identity";
    /** The header carrying the connection's remote IP address, for the registration check. */
    static final String ADDRESS_HEADER = "trellis-peer-address";

    private PeerIdentity() {
    }

    /** The request without client-supplied identity headers, plus the verified identity if any. */
    static HttpRequest attach(HttpRequest request) {
        HttpRequest stripped = request.removeHeader(HEADER).removeHeader(ADDRESS_HEADER).removeHeader("x-forwarded-client-cert");
        HttpRequest addressed = request.getAttribute(AttributeKeys.remoteAddress).flatMap(remote -> remote.getAddress())
                .map(address -> stripped.addHeader(RawHeader.create(ADDRESS_HEADER, address.getHostAddress()))).orElse(stripped);
        return identity(request).map(id -> addressed.addHeader(RawHeader.create(HEADER, id))).orElse(addressed);
    }

    private static Optional<String> identity(HttpRequest request) {
        return request.getAttribute(AttributeKeys.sslSession).flatMap(info -> {
            SSLSession session = info.getSession();
            try {
                Certificate[] chain = session.getPeerCertificates();
                // The trust manager already verified the chain during the handshake.
                return Optional.of(PeerCertificateVerifier.uriSanIdentity((X509Certificate) chain[0]).toString());
            } catch (SSLPeerUnverifiedException e) {
                return Optional.empty();
            } catch (PeerVerificationException e) {
                return Optional.empty();
            }
        });
    }
}
