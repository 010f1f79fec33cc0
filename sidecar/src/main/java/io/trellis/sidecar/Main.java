package io.trellis.sidecar;

import io.micronaut.context.ApplicationContext;
import io.trellis.sidecar.errors.Causes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code trellis sidecar --service NAME --app-port PORT --token-file FILE --ca-bundle FILE [flags]}: every flag
 * also comes from a {@code TRELLIS_*} environment variable (flags win; repeatable flags take a comma-separated
 * list from the environment). Exits 2 on a bad flag, with the flag named.
 */
public final class Main {
    /** A command-line flag and the property and environment variable it sets. */
    private record Flag(String name, String property, boolean repeatable, String help) {
        String env() {
            return "TRELLIS_" + name.substring(2).replace('-', '_').toUpperCase(java.util.Locale.ROOT);
        }
    }

    private static final List<Flag> FLAGS = List.of(
            new Flag("--service", "service", false, "the app's service name (required)"),
            new Flag("--app-port", "app-port", false, "the app's port on 127.0.0.1 (required)"),
            new Flag("--token-file", "token-file", false, "file holding a join token (required)"),
            new Flag("--ca-bundle", "ca-bundle", false, "PEM roots the control plane's certificate chains to (required)"),
            new Flag("--control-plane", "control-plane", false, "HOST:PORT of the control plane (127.0.0.1:15010)"),
            new Flag("--namespace", "namespace", false, "namespace (default)"),
            new Flag("--service-account", "service-account", false, "identity's service account (the service name)"),
            new Flag("--trust-domain", "trust-domain", false, "trust domain (cluster.local)"),
            new Flag("--bind-address", "bind-address", false, "inbound listener address, announced to peers (127.0.0.1)"),
            new Flag("--outbound-port", "outbound-port", false, "app-facing outbound port on 127.0.0.1 (15001)"),
            new Flag("--inbound-port", "inbound-port", false, "mTLS inbound port (15006)"),
            new Flag("--tunnel-port", "tunnel-port", false, "mTLS port for opaque TCP from other sidecars (15008)"),
            new Flag("--admin-port", "admin-port", false, "health and metrics port (15020)"),
            new Flag("--admin-address", "admin-address", false, "admin listener address (0.0.0.0)"),
            new Flag("--api-port", "api-port", false, "local sidecar API port on 127.0.0.1 (15002)"),
            new Flag("--upstream", "upstreams", true, "NAME=LOCALPORT (HTTP) or NAME[:PORT]=LOCALPORT/tcp: a local port"
                    + " that reaches NAME (repeatable)"),
            new Flag("--state-dir", "state-dir", false, "where key, certificate and last snapshot are kept"),
            new Flag("--label", "labels", true, "k=v label announced to the control plane (repeatable)"),
            new Flag("--app-protocol", "app-protocol", false, "auto, http1 or h2c (auto: gRPC over h2c, rest HTTP/1.1)"),
            new Flag("--drain-timeout", "drain-timeout", false, "how long in-flight requests may finish on SIGTERM (10s)"),
            new Flag("--kafka-bootstrap", "kafka-bootstrap", false, "HOST:PORT[,...] Kafka brokers (the mesh config's)"),
            new Flag("--headers-with-underscores", "headers-with-underscores", false,
                    "drop, reject or allow request headers named with _ (drop)"),
            new Flag("--max-connections", "max-connections", false,
                    "connections each HTTP listener holds at once; more are reset (8192)"),
            new Flag("--path-case", "path-case", false,
                    "sensitive, or insensitive: inbound paths lower-cased before authorization (sensitive)"),
            new Flag("--ready-file", "ready-file", false,
                    "file written with the ports once the sidecar is ready, removed when it stops"),
            new Flag("--pod-name", "pod-name", false, "this proxy's name in the control plane's proxy list (SERVICE-random)"),
            new Flag("--app-probe", "app-probes", true,
                    "CONTAINER/KIND=PORT:PATH: GET /app-health/CONTAINER/KIND on the admin port asks the app (repeatable)"));

    private Main() {
    }

    /** Starts the sidecar and blocks until it has shut down (SIGTERM drains it). */
    public static void main(String[] args) {
        io.trellis.certs.MeshTls.refuseClientRenegotiation();
        Map<String, Object> properties;
        try {
            properties = parse(args, System.getenv());
        } catch (IllegalArgumentException e) {
            System.err.println("trellis sidecar: " + e.getMessage());
            System.err.println(usage());
            System.exit(2);
            return;
        }
        ApplicationContext context;
        try {
            context = ApplicationContext.builder().properties(properties).banner(false).start();
        } catch (RuntimeException e) {
            System.err.println("trellis sidecar: " + startFailure(e));
            System.exit(1);
            return;
        }
        context.getBean(Sidecar.class).whenTerminated().join();
        context.close();
    }

    /** Why the start failed, in one line: a listener that could not be bound is named with its flag. */
    private static String startFailure(Throwable error) {
        return Causes.find(error, Sidecar.ListenerBindException.class).map(Throwable::getMessage)
                .orElseGet(() -> Causes.rootMessage(error));
    }

    /** Turns flags and environment variables into {@code trellis.sidecar.*} properties. */
    static Map<String, Object> parse(String[] args, Map<String, String> env) {
        Map<String, Object> properties = new LinkedHashMap<>();
        Map<String, List<String>> repeated = new HashMap<>();
        for (Flag flag : FLAGS) {
            String value = env.get(flag.env());
            if (value != null && !value.isBlank()) {
                properties.put(key(flag), flag.repeatable() ? List.of(value.split(",")) : value);
            }
        }
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("--help") || arg.equals("-h")) {
                System.out.println(usage());
                System.exit(0);
            }
            int eq = arg.indexOf('=');
            String name = eq > 0 ? arg.substring(0, eq) : arg;
            Flag flag = FLAGS.stream().filter(f -> f.name().equals(name)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("unknown flag " + name));
            String value;
            if (eq > 0) {
                value = arg.substring(eq + 1);
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                throw new IllegalArgumentException(name + " needs a value");
            }
            if (name.endsWith("-port") && !value.matches("\\d{1,5}")) {
                throw new IllegalArgumentException(name + ": '" + value + "' (expected a port number)");
            }
            if (flag.repeatable()) {
                repeated.computeIfAbsent(key(flag), k -> new ArrayList<>()).add(value);
            } else {
                properties.put(key(flag), value);
            }
        }
        properties.putAll(repeated);
        for (String required : List.of("--service", "--app-port", "--token-file", "--ca-bundle")) {
            Flag flag = FLAGS.stream().filter(f -> f.name().equals(required)).findFirst().orElseThrow();
            if (!properties.containsKey(key(flag))) {
                throw new IllegalArgumentException(required + " is required (or " + flag.env() + ")");
            }
        }
        return properties;
    }

    private static String key(Flag flag) {
        return "trellis.sidecar." + flag.property();
    }

    private static String usage() {
        StringBuilder out = new StringBuilder("usage: trellis sidecar --service NAME --app-port PORT --token-file FILE"
                + " --ca-bundle FILE [flags]\n");
        for (Flag flag : FLAGS) {
            out.append(String.format("  %-18s %-26s %s%n", flag.name(), flag.env(), flag.help()));
        }
        return out.toString();
    }
}
