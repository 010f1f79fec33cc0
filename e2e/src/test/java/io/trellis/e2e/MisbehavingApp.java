package io.trellis.e2e;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A raw-socket "app" that misbehaves on purpose, one HTTP/1.1 request per connection:
 * <ul>
 *   <li>{@link Mode#RESET}: accepts and resets at once (SO_LINGER 0 makes close send RST), as a crashing process
 *       looks to its sidecar;</li>
 *   <li>{@link Mode#HANG}: reads the request and never answers, counting the connections the client closes
 *       (that is how an HTTP/1.1 server learns its caller gave up);</li>
 *   <li>{@link Mode#OK}: answers {@code 200 ok} and closes.</li>
 * </ul>
 * Bounded: a hung connection is dropped after 60 s; everything stops with {@link #close()}.
 */
final class MisbehavingApp implements AutoCloseable {
    enum Mode { RESET, HANG, OK }

    private final ServerSocket socket;
    private final Thread acceptor;
    private final AtomicLong resets = new AtomicLong();
    private final AtomicLong served = new AtomicLong();
    private final AtomicLong hungUp = new AtomicLong();
    private volatile Mode mode;

    private MisbehavingApp(Mode mode) throws IOException {
        this.mode = mode;
        socket = new ServerSocket();
        socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        acceptor = new Thread(this::acceptUntilClosed, "misbehaving-app");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Starts on a free port in {@code mode}. */
    static MisbehavingApp start(Mode mode) throws IOException {
        return new MisbehavingApp(mode);
    }

    int port() {
        return socket.getLocalPort();
    }

    /** Switches the behaviour for new connections. */
    void mode(Mode next) {
        mode = next;
    }

    /** Connections reset so far. */
    long resets() {
        return resets.get();
    }

    /** Requests answered so far. */
    long served() {
        return served.get();
    }

    /** Hung requests whose client closed the connection. */
    long hungUp() {
        return hungUp.get();
    }

    private void acceptUntilClosed() {
        while (!socket.isClosed()) {
            try {
                Socket connection = socket.accept();
                switch (mode) {
                    case RESET -> {
                        resets.incrementAndGet();
                        connection.setSoLinger(true, 0);
                        connection.close();
                    }
                    case OK -> answer(connection);
                    case HANG -> {
                        Thread hang = new Thread(() -> hang(connection), "hung-request");
                        hang.setDaemon(true);
                        hang.start();
                    }
                }
            } catch (SocketException closed) {
                return;
            } catch (IOException e) {
                // One bad connection does not stop the app; the next one is accepted.
            }
        }
    }

    private void answer(Socket connection) throws IOException {
        try (connection) {
            connection.setSoTimeout(5_000);
            if (readHead(connection.getInputStream())) {
                connection.getOutputStream().write(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
                        + "Connection: close\r\n\r\nok").getBytes(StandardCharsets.US_ASCII));
                served.incrementAndGet();
            }
        }
    }

    private void hang(Socket connection) {
        try (connection) {
            connection.setSoTimeout(60_000);
            InputStream in = connection.getInputStream();
            if (readHead(in) && in.read() < 0) {
                hungUp.incrementAndGet();
            }
        } catch (SocketTimeoutException e) {
            // Nobody hung up within the bound: not counted.
        } catch (IOException e) {
            // A reset counts as hanging up too.
            hungUp.incrementAndGet();
        }
    }

    /** Reads up to the blank line that ends a request head; false at end of stream. */
    private static boolean readHead(InputStream in) throws IOException {
        int matched = 0;
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                return false;
            }
            matched = (b == '\r' || b == '\n') ? matched + 1 : 0;
        }
        return true;
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
