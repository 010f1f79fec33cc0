package io.trellis.sidecar.inbound;

import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Locale;

/**
 * Normalises a request path before authorization, so that {@code /items/../admin}, {@code //admin} and
 * {@code /%61dmin} cannot slip past a rule written for {@code /admin}: percent-encoded unreserved characters
 * are decoded (RFC 3986 §6.2.2.2), repeated slashes merged, dot segments removed (§5.2.4). Encoded slashes,
 * backslashes and NULs are refused: they mean different paths to different servers. So are path parameters
 * ({@code ;}, plain or as {@code %3B}): Tomcat, Jetty and Spring drop {@code ;x} from a segment before they match it,
 * so {@code /admin;x} and {@code /x/..;/admin} are {@code /admin} to them and something else to every other
 * server and to the rules. Case is kept unless the app ignores it ({@link PathCase}). The app receives the normalised
 * path, so it sees exactly what was authorised. Stateless.
 */
public final class PathNormalizer {
    private static final String PATH_PARAMETERS =
            "path contains a path parameter (';'), which servlet containers and other servers read as different paths";

    private PathNormalizer() {
    }

    /** The normalised form of {@code rawPath}, lower-cased when the app ignores case ({@link PathCase#INSENSITIVE}). */
    public static String normalise(String rawPath, PathCase pathCase) {
        String normalised = normalise(rawPath);
        return pathCase == PathCase.INSENSITIVE ? normalised.toLowerCase(Locale.ROOT) : normalised;
    }

    /** The normalised form of {@code rawPath} (the path of the request target, without query). */
    public static String normalise(String rawPath) {
        if (rawPath.isEmpty()) {
            return "/";
        }
        if (rawPath.charAt(0) != '/') {
            throw new ProxyException(ProxyError.BAD_REQUEST, "path must start with '/'");
        }
        String decoded = decodeUnreserved(rawPath);
        Deque<String> segments = new ArrayDeque<>();
        String[] parts = decoded.split("/", -1);
        for (int i = 1; i < parts.length; i++) {
            String part = parts[i];
            boolean last = i == parts.length - 1;
            if (part.equals("..")) {
                segments.pollLast();
                if (last) {
                    segments.addLast("");
                }
            } else if (part.equals(".")) {
                if (last) {
                    segments.addLast("");
                }
            } else if (!part.isEmpty() || last) {
                segments.addLast(part);
            }
        }
        return "/" + String.join("/", segments);
    }

    private static String decodeUnreserved(String path) {
        StringBuilder out = new StringBuilder(path.length());
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (c == '\\' || c == 0) {
                throw new ProxyException(ProxyError.BAD_REQUEST, "path contains a backslash or NUL");
            }
            if (c == ';') {
                throw new ProxyException(ProxyError.BAD_REQUEST, PATH_PARAMETERS);
            }
            if (c != '%') {
                out.append(c);
                continue;
            }
            int value = hex(path, i + 1);
            char decoded = (char) value;
            if (decoded == '/' || decoded == '\\' || decoded == 0) {
                throw new ProxyException(ProxyError.BAD_REQUEST, "path contains an encoded '/', '\\' or NUL");
            }
            if (decoded == ';') {
                throw new ProxyException(ProxyError.BAD_REQUEST, PATH_PARAMETERS);
            }
            if (Character.isLetterOrDigit(decoded) && decoded < 0x80 || decoded == '-' || decoded == '.' || decoded == '_'
                    || decoded == '~') {
                out.append(decoded);
            } else {
                out.append('%').append(Character.toUpperCase(path.charAt(i + 1))).append(Character.toUpperCase(path.charAt(i + 2)));
            }
            i += 2;
        }
        return out.toString();
    }

    private static int hex(String path, int at) {
        if (at + 1 >= path.length()) {
            throw new ProxyException(ProxyError.BAD_REQUEST, "path has a truncated percent-encoding");
        }
        int high = Character.digit(path.charAt(at), 16);
        int low = Character.digit(path.charAt(at + 1), 16);
        if (high < 0 || low < 0) {
            throw new ProxyException(ProxyError.BAD_REQUEST, "path has an invalid percent-encoding");
        }
        return high * 16 + low;
    }
}
