package io.trellis.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs the real curl (a third-party client) and parses its {@code -i} output. */
final class Curl {
    /** One exchange as curl saw it; {@code exitCode} is curl's (0 = a response arrived). */
    record Result(int exitCode, int status, Map<String, String> headers, String body, String stderr) {
        String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }
    }

    private Curl() {
    }

    /** {@code curl -s -i --max-time 30 ARGS...}. */
    static Result run(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("curl", "-s", "-S", "-i", "--max-time", "30"));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).start();
        byte[] out = process.getInputStream().readAllBytes();
        String err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(40, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException("curl did not finish: " + command);
        }
        String text = new String(out, StandardCharsets.UTF_8);
        int split = text.indexOf("\r\n\r\n");
        if (process.exitValue() != 0 || split < 0) {
            return new Result(process.exitValue(), 0, Map.of(), text, err);
        }
        String[] head = text.substring(0, split).split("\r\n");
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < head.length; i++) {
            int colon = head[i].indexOf(':');
            if (colon > 0) {
                headers.put(head[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), head[i].substring(colon + 1).trim());
            }
        }
        int status = Integer.parseInt(head[0].split(" ")[1]);
        return new Result(0, status, headers, text.substring(split + 4), err);
    }
}
