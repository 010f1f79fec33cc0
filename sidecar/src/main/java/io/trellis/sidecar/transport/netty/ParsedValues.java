package io.trellis.sidecar.transport.netty;

import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * The parsed form of header values that recur on nearly every message: a service's {@code Host}, an app's
 * {@code Content-Type}. Each distinct value is parsed once; Pekko's header parser cost about 2 % of a loaded
 * sidecar's CPU per header when it ran for every message (a perf profile of the pair). Bounded against a caller
 * that sends a new value every time: once {@code maxEntries} values are known, or for a value longer than
 * {@link #MAX_VALUE_LENGTH}, the value is parsed and not kept. A value that does not parse is never kept: the
 * parser's exception reaches the caller each time. Thread-safe; the parsed values must be immutable.
 *
 * @param <T> the parsed form
 */
final class ParsedValues<T> {
    /** The longest value kept (a DNS name is at most 253 characters). */
    static final int MAX_VALUE_LENGTH = 256;

    private final Function<String, T> parser;
    private final int maxEntries;
    private final ConcurrentHashMap<String, T> known = new ConcurrentHashMap<>();

    ParsedValues(Function<String, T> parser, int maxEntries) {
        this.parser = parser;
        this.maxEntries = maxEntries;
    }

    /** The parsed form of {@code value}; throws what the parser throws for a value it refuses. */
    T parse(String value) {
        T parsed = known.get(value);
        if (parsed != null) {
            return parsed;
        }
        parsed = parser.apply(value);
        if (value.length() <= MAX_VALUE_LENGTH && known.size() < maxEntries) {
            known.putIfAbsent(value, parsed);
        }
        return parsed;
    }

    /** How many values are kept. */
    int size() {
        return known.size();
    }
}
