package io.trellis.sidecar.errors;

import java.net.ConnectException;
import javax.net.ssl.SSLHandshakeException;
import org.apache.pekko.stream.StreamTcpException;

/** Reading a failure's cause chain: its innermost message, and whether it means "never connected". Stateless. */
public final class Causes {
    private Causes() {
    }

    /** {@code error} without the CompletionException/ExecutionException wrappers futures put around it. */
    public static Throwable unwrap(Throwable error) {
        Throwable cause = error;
        while ((cause instanceof java.util.concurrent.CompletionException || cause instanceof java.util.concurrent.ExecutionException)
                && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause;
    }

    /** The innermost cause's message (its class name when it has none), for logs and error bodies. */
    public static String rootMessage(Throwable error) {
        Throwable cause = error;
        while (cause.getCause() != null && cause.getCause() != cause) {
            cause = cause.getCause();
        }
        return cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
    }

    /** True when some cause is of {@code type}. */
    public static boolean has(Throwable error, Class<? extends Throwable> type) {
        return find(error, type).isPresent();
    }

    /** The outermost cause of {@code type}, if any. */
    public static <T extends Throwable> java.util.Optional<T> find(Throwable error, Class<T> type) {
        for (Throwable cause = error; cause != null; cause = cause.getCause() == cause ? null : cause.getCause()) {
            if (type.isInstance(cause)) {
                return java.util.Optional.of(type.cast(cause));
            }
        }
        return java.util.Optional.empty();
    }

    /**
     * True when {@code error} means no connection was made (TCP refused or timed out, or the TLS handshake
     * failed), so the request provably never reached the peer.
     */
    public static boolean neverConnected(Throwable error) {
        return has(error, ConnectException.class) || has(error, SSLHandshakeException.class)
                || has(error, StreamTcpException.class) && String.valueOf(rootMessage(error)).contains("Tcp command");
    }

    /**
     * The typed failure for a request to {@code peer} that failed with {@code error}:
     * {@code upstream-connect-failure} when it never connected, {@code upstream-reset} otherwise.
     */
    public static ProxyException upstreamFailure(String peer, Throwable error) {
        if (error instanceof ProxyException proxy) {
            return proxy;
        }
        return upstreamFailure(peer, error, neverConnected(error));
    }

    /**
     * The typed failure for a request to {@code peer} when the caller knows whether a connection was made.
     *
     * @param error the cause; null when the connection simply closed
     */
    public static ProxyException upstreamFailure(String peer, Throwable error, boolean neverConnected) {
        String detail = error == null ? "closed" : rootMessage(error);
        return neverConnected
                ? new ProxyException(ProxyError.UPSTREAM_CONNECT_FAILURE, "cannot connect to " + peer + ": " + detail, error)
                : new ProxyException(ProxyError.UPSTREAM_RESET, "connection to " + peer + " broke: " + detail, error);
    }
}
