import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Open-loop load at a fixed rate over keep-alive HTTP/1.1 connections, for latency percentiles. Each request's
 * latency is measured from when it was scheduled, not from when it was sent, so a stalled server shows up in
 * the tail instead of silently lowering the rate (no coordinated omission).
 *
 * <p>Usage: {@code java FixedRate.java URL RPS SECONDS CONNECTIONS [Host header]}; prints one line:
 * {@code sent=N errors=N p50_us=N p90_us=N p99_us=N max_us=N}.
 */
public final class FixedRate {
    public static void main(String[] args) throws Exception {
        URI url = URI.create(args[0]);
        int rps = Integer.parseInt(args[1]);
        int seconds = Integer.parseInt(args[2]);
        int connections = Integer.parseInt(args[3]);
        String host = args.length > 4 ? args[4] : url.getHost();
        int perConnection = rps * seconds / connections;
        long intervalNanos = 1_000_000_000L * connections / rps;
        long[][] latencies = new long[connections][perConnection];
        AtomicLong errors = new AtomicLong();
        byte[] request = ("GET " + (url.getRawPath().isEmpty() ? "/" : url.getRawPath()) + " HTTP/1.1\r\nHost: " + host
                + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        Thread[] threads = new Thread[connections];
        long start = System.nanoTime() + 100_000_000L;
        for (int c = 0; c < connections; c++) {
            int id = c;
            threads[c] = new Thread(() -> {
                long offset = intervalNanos * id / connections;
                Socket socket = null;
                InputStream in = null;
                for (int i = 0; i < perConnection; i++) {
                    long scheduled = start + offset + i * intervalNanos;
                    long wait = scheduled - System.nanoTime();
                    if (wait > 0) {
                        sleepNanos(wait);
                    }
                    try {
                        if (socket == null) {
                            socket = new Socket(url.getHost(), url.getPort());
                            socket.setTcpNoDelay(true);
                            in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
                        }
                        OutputStream out = socket.getOutputStream();
                        out.write(request);
                        out.flush();
                        readResponse(in);
                        latencies[id][i] = System.nanoTime() - scheduled;
                    } catch (IOException e) {
                        errors.incrementAndGet();
                        latencies[id][i] = Long.MAX_VALUE;
                        closeQuietly(socket);
                        socket = null;
                    }
                }
                closeQuietly(socket);
            });
            threads[c].start();
        }
        for (Thread thread : threads) {
            thread.join();
        }
        long[] all = Arrays.stream(latencies).flatMapToLong(Arrays::stream).filter(l -> l != Long.MAX_VALUE).sorted().toArray();
        System.out.printf("sent=%d errors=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d%n", perConnection * connections, errors.get(),
                percentile(all, 0.50), percentile(all, 0.90), percentile(all, 0.99), all.length == 0 ? 0 : all[all.length - 1] / 1000);
    }

    private static long percentile(long[] sorted, double p) {
        return sorted.length == 0 ? 0 : sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)] / 1000;
    }

    /** Reads one response (Content-Length or chunked body) and checks for a 200. */
    private static void readResponse(InputStream in) throws IOException {
        String status = line(in);
        if (!status.startsWith("HTTP/1.1 200")) {
            throw new IOException("unexpected status: " + status);
        }
        long length = -1;
        boolean chunked = false;
        for (String header = line(in); !header.isEmpty(); header = line(in)) {
            String lower = header.toLowerCase();
            if (lower.startsWith("content-length:")) {
                length = Long.parseLong(lower.substring(15).trim());
            } else if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
                chunked = true;
            }
        }
        if (chunked) {
            for (long size = Long.parseLong(line(in).split(";")[0].trim(), 16); size > 0;
                    size = Long.parseLong(line(in).split(";")[0].trim(), 16)) {
                skip(in, size);
                line(in);
            }
            line(in);
        } else if (length > 0) {
            skip(in, length);
        }
    }

    private static String line(InputStream in) throws IOException {
        StringBuilder out = new StringBuilder();
        for (int b = in.read(); b != '\n'; b = in.read()) {
            if (b < 0) {
                throw new IOException("connection closed");
            }
            if (b != '\r') {
                out.append((char) b);
            }
        }
        return out.toString();
    }

    private static void skip(InputStream in, long n) throws IOException {
        for (long left = n; left > 0; left--) {
            if (in.read() < 0) {
                throw new IOException("connection closed");
            }
        }
    }

    private static void sleepNanos(long nanos) {
        try {
            Thread.sleep(nanos / 1_000_000, (int) (nanos % 1_000_000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(Socket socket) {
        if (socket != null) {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing a broken connection
            }
        }
    }
}
