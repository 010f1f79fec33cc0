package io.trellis.controlplane;

import io.micronaut.runtime.Micronaut;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code trellis control-plane [--data-dir DIR] [--api-port 8080] [--grpc-port 15010] [--grpc-host ADDR]
 * [--api-host ADDR] [--admin-token-file FILE] [--ca-dir DIR] [--server-name NAME]... [--ready-file FILE]}. Every
 * flag can also come from the environment ({@code TRELLIS_DATA_DIR}, {@code TRELLIS_API_PORT}, ...); flags win.
 */
public final class Main {
    private record Flag(String name, String property, String env) {
    }

    private static final List<Flag> FLAGS = List.of(
            new Flag("--data-dir", "trellis.data-dir", "TRELLIS_DATA_DIR"),
            new Flag("--api-port", "micronaut.server.port", "TRELLIS_API_PORT"),
            new Flag("--api-host", "micronaut.server.host", "TRELLIS_API_HOST"),
            new Flag("--grpc-port", "trellis.grpc-port", "TRELLIS_GRPC_PORT"),
            new Flag("--grpc-host", "trellis.grpc-host", "TRELLIS_GRPC_HOST"),
            new Flag("--admin-token-file", "trellis.admin-token-file", "TRELLIS_ADMIN_TOKEN_FILE"),
            new Flag("--ca-dir", "trellis.ca-dir", "TRELLIS_CA_DIR"),
            new Flag("--server-name", "trellis.server-names", "TRELLIS_SERVER_NAMES"),
            new Flag("--trust-announced-addresses", "trellis.trust-announced-addresses", "TRELLIS_TRUST_ANNOUNCED_ADDRESSES"),
            new Flag("--ready-file", "trellis.ready-file", "TRELLIS_READY_FILE"));

    /** A listener's bind properties, with the port it takes when none is given (application.yml). */
    private record Listener(String hostProperty, String portFlag, String portProperty, int defaultPort) {
    }

    private static final List<Listener> LISTENERS = List.of(
            new Listener("micronaut.server.host", "--api-port", "micronaut.server.port", 8080),
            new Listener("trellis.grpc-host", "--grpc-port", "trellis.grpc-port", 15010));

    private Main() {
    }

    /** Starts the control plane and blocks until it is stopped. */
    public static void main(String[] args) {
        io.trellis.certs.MeshTls.refuseClientRenegotiation();
        Map<String, Object> properties;
        try {
            properties = parse(args, System.getenv());
        } catch (IllegalArgumentException e) {
            System.err.println("trellis control-plane: " + e.getMessage());
            System.err.println(usage());
            System.exit(2);
            return;
        }
        // A configuration file (the chart's MICRONAUT_CONFIG_FILES) may name other ports than the defaults: only the
        // ones given here are checked then, and the server's own bind reports the rest.
        boolean configFiles = System.getenv("MICRONAUT_CONFIG_FILES") != null;
        String inUse = portInUse(configFiles ? properties : withDefaultPorts(properties));
        if (inUse != null) {
            System.err.println("trellis control-plane: " + inUse);
            System.exit(1);
            return;
        }
        Micronaut.build(new String[0]).mainClass(Main.class).properties(properties).banner(false).start();
    }

    /**
     * Which of the listeners' ports that {@code properties} names another process holds, said in one line, or null: checked before start,
     * because a bind failure deep in the context's start surfaces as a long chain of wrapped exceptions.
     */
    static String portInUse(Map<String, Object> properties) {
        for (Listener listener : LISTENERS) {
            if (!properties.containsKey(listener.portProperty())) {
                continue;
            }
            String host = String.valueOf(properties.getOrDefault(listener.hostProperty(), "127.0.0.1"));
            String value = String.valueOf(properties.get(listener.portProperty()));
            if (!value.matches("\\d{1,5}") || Integer.parseInt(value) == 0) {
                continue;   // a random port, or a value that the server's own binding refuses with its message
            }
            int port = Integer.parseInt(value);
            try (ServerSocket probe = new ServerSocket()) {
                probe.setReuseAddress(true);
                probe.bind(new InetSocketAddress(host, port));
            } catch (IOException e) {
                return host + ":" + port + " (" + listener.portFlag() + ") cannot be bound: " + e.getMessage()
                        + "; is another control plane running? Stop it, or pick another port";
            }
        }
        return null;
    }

    /** {@code properties} with each listener's default port where none is given. */
    static Map<String, Object> withDefaultPorts(Map<String, Object> properties) {
        Map<String, Object> complete = new HashMap<>(properties);
        for (Listener listener : LISTENERS) {
            complete.putIfAbsent(listener.portProperty(), listener.defaultPort());
        }
        return complete;
    }

    /** Turns flags and environment variables into Micronaut properties. */
    static Map<String, Object> parse(String[] args, Map<String, String> env) {
        Map<String, Object> properties = new HashMap<>();
        for (Flag flag : FLAGS) {
            String value = env.get(flag.env());
            if (value != null && !value.isBlank()) {
                properties.put(flag.property(), flag.name().equals("--server-name") ? List.of(value.split(",")) : value);
            }
        }
        List<String> serverNames = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("--help") || arg.equals("-h")) {
                System.out.println(usage());
                System.exit(0);
            }
            String name = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
            Flag flag = FLAGS.stream().filter(f -> f.name().equals(name)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("unknown flag " + name));
            String value;
            if (arg.contains("=")) {
                value = arg.substring(arg.indexOf('=') + 1);
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                throw new IllegalArgumentException(name + " needs a value");
            }
            if (name.endsWith("-port") && !value.matches("\\d{1,5}")) {
                throw new IllegalArgumentException(name + ": '" + value + "' (expected a port number)");
            }
            if (flag.name().equals("--server-name")) {
                serverNames.add(value);
            } else {
                properties.put(flag.property(), value);
            }
        }
        if (!serverNames.isEmpty()) {
            properties.put("trellis.server-names", serverNames);
        }
        return properties;
    }

    private static String usage() {
        return "usage: trellis control-plane [--data-dir DIR] [--api-port 8080] [--api-host ADDR] [--grpc-port 15010]"
                + " [--grpc-host ADDR] [--admin-token-file FILE] [--ca-dir DIR] [--server-name NAME]...\n"
                + "       [--trust-announced-addresses true|false] [--ready-file FILE]\n"
                + "environment: TRELLIS_DATA_DIR, TRELLIS_API_PORT, TRELLIS_API_HOST, TRELLIS_GRPC_PORT,"
                + " TRELLIS_GRPC_HOST, TRELLIS_ADMIN_TOKEN_FILE, TRELLIS_CA_DIR, TRELLIS_SERVER_NAMES,"
                + " TRELLIS_TRUST_ANNOUNCED_ADDRESSES, TRELLIS_READY_FILE";
    }
}
