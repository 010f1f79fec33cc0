package io.trellis.e2e;

import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** HTTP/1.1 as bytes on a socket, for requests no well-behaved client would send. */
final class RawHttp {
    private RawHttp() {
    }

    /**
     * Writes {@code request} on a new connection to {@code host:port} and reads until the server closes it (at most
     * 20 s), so a request that is not answered, or a second answer to bytes smuggled after the first request, shows.
     */
    static String exchange(String host, int port, String request) throws IOException {
        try (Socket socket = new Socket(host, port)) {
            socket.setSoTimeout(20_000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }
}
