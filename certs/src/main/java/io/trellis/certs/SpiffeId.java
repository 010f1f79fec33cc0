package io.trellis.certs;

import java.util.List;
import java.util.Objects;

/**
 * A validated SPIFFE ID, {@code spiffe://<trust-domain>/<path>}. Parsing is strict and never
 * normalises: an upper-case scheme or trust domain, percent-encoding, empty, {@code .} or {@code ..}
 * segments, control characters, query, fragment, user info and port are all rejected, because two
 * spellings of one identity would let a policy written for one be bypassed with the other.
 * Instances are immutable and thread-safe.
 */
public final class SpiffeId {
    private static final String SCHEME = "spiffe://";
    private static final int MAX_LENGTH = 2048;
    private static final int MAX_TRUST_DOMAIN_LENGTH = 255;

    private final String trustDomain;
    private final List<String> segments;
    private final String uri;

    private SpiffeId(String trustDomain, List<String> segments) {
        this.trustDomain = trustDomain;
        this.segments = List.copyOf(segments);
        this.uri = SCHEME + trustDomain + (segments.isEmpty() ? "" : "/" + String.join("/", segments));
    }

    /**
     * Parses a SPIFFE ID.
     *
     * @throws InvalidSpiffeIdException naming what is wrong with {@code value}
     */
    public static SpiffeId parse(String value) {
        if (value == null || value.isEmpty()) {
            throw new InvalidSpiffeIdException("SPIFFE ID is empty");
        }
        if (value.length() > MAX_LENGTH) {
            throw new InvalidSpiffeIdException("SPIFFE ID is longer than " + MAX_LENGTH + " characters");
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c < 0x21 || c > 0x7e) {
                throw new InvalidSpiffeIdException(
                        "SPIFFE ID contains a control, space or non-ASCII character at index " + i);
            }
        }
        if (!value.startsWith(SCHEME)) {
            throw new InvalidSpiffeIdException("SPIFFE ID must start with 'spiffe://' (lower case): " + value);
        }
        String rest = value.substring(SCHEME.length());
        int slash = rest.indexOf('/');
        String trustDomain = slash < 0 ? rest : rest.substring(0, slash);
        validateTrustDomain(trustDomain);
        if (slash < 0) {
            return new SpiffeId(trustDomain, List.of());
        }
        String path = rest.substring(slash + 1);
        if (path.isEmpty()) {
            throw new InvalidSpiffeIdException("SPIFFE ID path must not end with '/': " + value);
        }
        List<String> segments = List.of(path.split("/", -1));
        for (String segment : segments) {
            validateSegment(segment);
        }
        return new SpiffeId(trustDomain, segments);
    }

    /** The workload identity {@code spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>}. */
    public static SpiffeId forWorkload(String trustDomain, String namespace, String serviceAccount) {
        validateTrustDomain(trustDomain);
        validateSegment(namespace);
        validateSegment(serviceAccount);
        return new SpiffeId(trustDomain, List.of("ns", namespace, "sa", serviceAccount));
    }

    /** Validates a trust domain name: lower-case letters, digits, '.', '-' and '_', at most 255 characters. */
    public static void validateTrustDomain(String trustDomain) {
        if (trustDomain == null || trustDomain.isEmpty()) {
            throw new InvalidSpiffeIdException("trust domain is empty");
        }
        if (trustDomain.length() > MAX_TRUST_DOMAIN_LENGTH) {
            throw new InvalidSpiffeIdException("trust domain is longer than " + MAX_TRUST_DOMAIN_LENGTH + " characters");
        }
        for (int i = 0; i < trustDomain.length(); i++) {
            char c = trustDomain.charAt(i);
            if (c >= 'A' && c <= 'Z') {
                throw new InvalidSpiffeIdException("trust domain must be lower case (not normalised): " + trustDomain);
            }
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')) {
                throw new InvalidSpiffeIdException(
                        "trust domain may hold only a-z, 0-9, '.', '-', '_' (found '" + c + "'): " + trustDomain);
            }
        }
    }

    private static void validateSegment(String segment) {
        if (segment == null || segment.isEmpty()) {
            throw new InvalidSpiffeIdException("SPIFFE ID path has an empty segment");
        }
        if (segment.equals(".") || segment.equals("..")) {
            throw new InvalidSpiffeIdException("SPIFFE ID path has a '" + segment + "' segment");
        }
        for (int i = 0; i < segment.length(); i++) {
            char c = segment.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '-' || c == '_';
            if (!ok) {
                String what = c == '%' ? "percent-encoding" : "'" + c + "'";
                throw new InvalidSpiffeIdException("SPIFFE ID path segment '" + segment + "' contains " + what
                        + " (allowed: a-z, A-Z, 0-9, '.', '-', '_')");
            }
        }
    }

    /** The trust domain, e.g. {@code cluster.local}. */
    public String trustDomain() {
        return trustDomain;
    }

    /** The path segments, e.g. {@code [ns, default, sa, web]}. */
    public List<String> segments() {
        return segments;
    }

    /** True for the {@code /ns/<ns>/sa/<sa>} workload form. */
    public boolean isWorkload() {
        return segments.size() == 4 && segments.get(0).equals("ns") && segments.get(2).equals("sa");
    }

    /** The namespace of a workload identity. @throws IllegalStateException when not {@link #isWorkload()} */
    public String namespace() {
        requireWorkload();
        return segments.get(1);
    }

    /** The service account of a workload identity. @throws IllegalStateException when not {@link #isWorkload()} */
    public String serviceAccount() {
        requireWorkload();
        return segments.get(3);
    }

    private void requireWorkload() {
        if (!isWorkload()) {
            throw new IllegalStateException(uri + " is not of the form spiffe://<td>/ns/<ns>/sa/<sa>");
        }
    }

    /** The URI form, {@code spiffe://...}. */
    @Override
    public String toString() {
        return uri;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SpiffeId other && other.uri.equals(uri);
    }

    @Override
    public int hashCode() {
        return Objects.hash(uri);
    }
}
