package io.trellis.e2e;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An "app" that accepts each connection and resets it at once (SO_LINGER 0 makes close send RST), the way a
 * crashing process looks to its sidecar, until {@link #heal()}; then it answers every request with a minimal
 * {@code 200 ok} and closes the connection. Counts both. Stops with {@link #close()}.
 */
final class ResettingServer implements AutoCloseable {
    private final ServerSocket socket;
    private final Thread acceptor;
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong served = new AtomicLong();
    private volatile boolean healed;

    private ResettingServer() throws IOException {
        socket = new ServerSocket();
        socket.setReuseAddress(true);
        socket.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        acceptor = new Thread(this::acceptUntilClosed, "resetting-server");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Starts on a free port. */
    static ResettingServer start() throws IOException {
        return new ResettingServer();
    }

    int port() {
        return socket.getLocalPort();
    }

    /** Connections reset so far. */
    long accepted() {
        return accepted.get();
    }

    /** Requests answered since {@link #heal()}. */
    long served() {
        return served.get();
    }

    /** From now on, answers instead of resetting. */
    void heal() {
        healed = true;
    }

    private void acceptUntilClosed() {
        while (!socket.isClosed()) {
            try (Socket connection = socket.accept()) {
                if (healed) {
                    answer(connection);
                } else {
                    accepted.incrementAndGet();
                    connection.setSoLinger(true, 0);
                }
            } catch (SocketException closed) {
                return;
            } catch (IOException e) {
                // One bad accept does not stop the server; the next one is tried.
            }
        }
    }

    private void answer(Socket connection) throws IOException {
        connection.setSoTimeout(5_000);
        var in = connection.getInputStream();
        int matched = 0;
        // Read the request head (up to the blank line); the requests here have no body.
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                return;
            }
            matched = (b == '\r' || b == '\n') ? matched + 1 : 0;
        }
        connection.getOutputStream().write(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
                + "Connection: close\r\n\r\nok").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        served.incrementAndGet();
    }

    @Override
    public void close() throws IOException {
        socket.close();
        try {
            acceptor.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
