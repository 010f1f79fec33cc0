package io.trellis.sidecar.transport.netty;

/**
 * The bounds an HTTP listener enforces on what callers send, each counted by its label in
 * {@code trellis_limit_hits_total} when it refuses or cuts something (docs/security.md lists them with their
 * defaults).
 */
public enum Limit {
    /** A connection beyond the listener's cap, closed as it was accepted. */
    CONNECTIONS("connections"),
    /** A connection that sent nothing in time. */
    FIRST_BYTES_TIMEOUT("first-bytes-timeout"),
    /** An HTTP/1.1 request head that did not arrive in full in time (slowloris). */
    REQUEST_HEAD_TIMEOUT("request-head-timeout"),
    /** A connection idle for longer than the idle timeout. */
    IDLE_TIMEOUT("idle-timeout"),
    /** An HTTP/1.1 request line beyond its bound (414). */
    URI_TOO_LONG("uri-too-long"),
    /** HTTP/1.1 headers beyond their size or count (431). */
    HEADERS_TOO_LARGE("headers-too-large"),
    /** An HTTP/1.1 head refused for its framing (400: obs-fold, bare LF, ambiguous transfer codings). */
    MALFORMED_HTTP1("malformed-http1"),
    /**
     * A malformed HTTP/2 request (a value with CR, LF or NUL, {@code :authority} and {@code host} that disagree, DATA
     * that does not add up to its {@code content-length}, a missing pseudo-header): its stream is reset
     * {@code PROTOCOL_ERROR}.
     */
    MALFORMED_HTTP2("malformed-http2"),
    /** Too many PING and SETTINGS frames on an HTTP/2 connection (GOAWAY ENHANCE_YOUR_CALM). */
    CONTROL_FRAMES("control-frames"),
    /** Too many streams reset by the caller right after it opened them (Rapid Reset; GOAWAY ENHANCE_YOUR_CALM). */
    PREMATURE_RESETS("premature-resets"),
    /**
     * An HTTP/2 connection ended for a flood Netty's codec bounds (RST_STREAM count, empty DATA frames, a header block
     * beyond its size across CONTINUATION frames, a peer that reads none of the control frames it is sent).
     */
    HTTP2_FLOOD("http2-flood"),
    /** An HTTP/2 connection ended by a protocol error of the caller's. */
    HTTP2_PROTOCOL_ERROR("http2-protocol-error");

    private final String label;

    Limit(String label) {
        this.label = label;
    }

    /** The metric label. */
    public String label() {
        return label;
    }
}
