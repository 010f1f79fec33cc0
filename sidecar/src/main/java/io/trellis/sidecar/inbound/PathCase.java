package io.trellis.sidecar.inbound;

import java.util.Locale;

/**
 * Whether the app behind this sidecar tells {@code /Admin} from {@code /admin}. Most servers do; IIS, servers on
 * case-insensitive file systems and some frameworks do not, and for those a rule written for {@code /admin} must also
 * hold for {@code /ADMIN}. Set per sidecar ({@code --path-case}), because it is a property of the app.
 */
public enum PathCase {
    /** Paths are authorised and forwarded with their case (the default). */
    SENSITIVE,
    /** Paths are lower-cased (ASCII) after normalisation, then authorised and forwarded so. */
    INSENSITIVE;

    /** The mode named {@code name} ({@code sensitive}, {@code insensitive}). */
    public static PathCase of(String name) {
        return valueOf(name.toUpperCase(Locale.ROOT));
    }
}
