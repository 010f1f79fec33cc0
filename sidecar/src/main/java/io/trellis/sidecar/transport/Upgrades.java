package io.trellis.sidecar.transport;

import java.util.Locale;
import java.util.Optional;
import org.apache.pekko.http.javadsl.model.HttpMessage;
import org.apache.pekko.http.javadsl.model.HttpRequest;

/**
 * HTTP/1.1 protocol upgrades (WebSocket and the like) through the mesh. {@code Upgrade} and {@code Connection}
 * describe one hop and cannot cross HTTP/2, so the listener that takes an app's upgrade request marks it with
 * {@value #MARKER} (the protocol asked for) and gives it a body that is the client's bytes after the switch; the
 * server sidecar's app client turns the mark back into an HTTP/1.1 upgrade, and the app's {@code 101} into a
 * {@code 200} with the mark whose body is the app's bytes; the first listener answers its app {@code 101}. Between
 * the sidecars an upgraded connection is one HTTP/2 stream, as RFC 8441 carries WebSocket, so it gets mTLS,
 * routing and authorization like any request. Stateless.
 */
public final class Upgrades {
    /** The header that marks an upgrade between the sidecars; its value is the {@code Upgrade} token. */
    public static final String MARKER = "trellis-upgrade";

    private Upgrades() {
    }

    /**
     * The protocol an HTTP/1.1 request head asks to switch to: its {@code Upgrade} value when {@code Connection}
     * names {@code upgrade}; empty otherwise, and for {@code h2c} (HTTP/2 is spoken with prior knowledge here).
     */
    public static Optional<String> requested(String connection, String upgrade) {
        if (connection == null || upgrade == null || upgrade.isBlank()) {
            return Optional.empty();
        }
        for (String token : connection.split(",")) {
            if (token.strip().equalsIgnoreCase("upgrade")) {
                String protocol = upgrade.strip();
                return protocol.toLowerCase(Locale.ROOT).startsWith("h2c") ? Optional.empty() : Optional.of(protocol);
            }
        }
        return Optional.empty();
    }

    /** The protocol {@code message} is marked as upgrading to, if it is. */
    public static Optional<String> marked(HttpMessage message) {
        return message.getHeader(MARKER).map(header -> header.value());
    }

    /** True when {@code request} is an upgrade: its body is the client's bytes after the switch, and never ends first. */
    public static boolean isUpgrade(HttpRequest request) {
        return marked(request).isPresent();
    }
}
