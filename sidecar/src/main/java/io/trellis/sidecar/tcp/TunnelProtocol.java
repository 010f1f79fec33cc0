package io.trellis.sidecar.tcp;

import io.trellis.sidecar.errors.ProxyError;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What two sidecars say on an opaque-TCP tunnel before the bytes flow, inside the mTLS connection: the client
 * sends one line naming the app port it wants ({@code TRELLIS-TCP/1 6379}), the server answers {@code OK} once it
 * has connected to its app, or {@code ERR <code>} with a code of the one error table and closes. After {@code OK}
 * the connection carries the app's bytes unchanged, both ways. The client sends nothing of the app's before
 * {@code OK}, so a refusal never loses data the app believes delivered, and a server-speaks-first protocol's
 * greeting is the first thing after {@code OK}. Lines end in {@code \n} and are at most {@link #MAX_LINE} bytes.
 */
final class TunnelProtocol {
    /** The longest line either side accepts, end included. */
    static final int MAX_LINE = 64;

    private static final String VERSION = "TRELLIS-TCP/1";
    private static final Pattern REQUEST = Pattern.compile(Pattern.quote(VERSION) + " ([1-9][0-9]{0,4})");
    private static final Pattern REFUSAL = Pattern.compile("ERR ([a-z-]{1,40})");

    private TunnelProtocol() {
    }

    /** The client's line asking for the app's port {@code port}. */
    static byte[] request(int port) {
        return (VERSION + " " + port + "\n").getBytes(StandardCharsets.US_ASCII);
    }

    /** The port a client's line asks for, or empty when the line is not a request of this version. */
    static Optional<Integer> requestedPort(String line) {
        Matcher m = REQUEST.matcher(line);
        if (!m.matches()) {
            return Optional.empty();
        }
        int port = Integer.parseInt(m.group(1));
        return port <= 65535 ? Optional.of(port) : Optional.empty();
    }

    /** The server's line accepting the tunnel. */
    static byte[] accepted() {
        return "OK\n".getBytes(StandardCharsets.US_ASCII);
    }

    /** The server's line refusing the tunnel with {@code error}. */
    static byte[] refused(ProxyError error) {
        return ("ERR " + error.code() + "\n").getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * The server's answer: empty for {@code OK}, the refusal's error otherwise. A line that is neither (a peer that
     * does not speak this protocol) reads as {@link ProxyError#UPSTREAM_RESET}.
     */
    static Optional<ProxyError> refusal(String line) {
        if (line.equals("OK")) {
            return Optional.empty();
        }
        Matcher m = REFUSAL.matcher(line);
        return Optional.of(m.matches() ? ProxyError.byCode(m.group(1)).orElse(ProxyError.UPSTREAM_RESET)
                : ProxyError.UPSTREAM_RESET);
    }
}
