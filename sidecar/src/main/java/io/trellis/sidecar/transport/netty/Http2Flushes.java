package io.trellis.sidecar.transport.netty;

import io.netty.handler.flush.FlushConsolidationHandler;

/**
 * Flushes of an HTTP/2 connection, consolidated per event-loop turn. Its streams are written from other channels'
 * reads (a response from the app's connection, a request from the app's listener), each with a flush of its own: a
 * TLS record and a write(2) per stream. Consolidated, the streams finished in one turn of the loop go out in one
 * flush (at most 256 flushes are held back), which costs a turn's latency, microseconds, and saves a system call
 * and a record per stream under load.
 */
final class Http2Flushes {
    private static final int MAX_HELD = 256;

    private Http2Flushes() {
    }

    /** A new handler, to sit between the TLS handler and the HTTP/2 codec. */
    static FlushConsolidationHandler handler() {
        return new FlushConsolidationHandler(MAX_HELD, true);
    }
}
