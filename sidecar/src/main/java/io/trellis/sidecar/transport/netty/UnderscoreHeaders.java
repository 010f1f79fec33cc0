package io.trellis.sidecar.transport.netty;

import java.util.Locale;

/**
 * What a listener does with a request header whose name has an underscore. CGI, WSGI and many frameworks map
 * {@code -} and {@code _} to the same variable, so {@code x_forwarded_client_cert} or {@code trellis_peer_identity}
 * would read as the identity headers the sidecar sets; nginx and Envoy drop or refuse such headers for the same
 * reason.
 */
public enum UnderscoreHeaders {
    /** The header is removed; the request goes on (the default). */
    DROP,
    /** The request is refused with {@code bad-request}. */
    REJECT,
    /** The header passes. */
    ALLOW;

    /** The policy named {@code name} ({@code drop}, {@code reject}, {@code allow}). */
    public static UnderscoreHeaders of(String name) {
        return valueOf(name.toUpperCase(Locale.ROOT));
    }
}
