package io.trellis.sidecar.transport.netty;

import io.netty.handler.codec.http2.Http2Settings;

/**
 * The HTTP/2 flow-control window and frame size of the sidecar-to-sidecar hop. A stream can have at most one window of bytes on the
 * wire before its receiver acknowledges them, so the protocol's 64 KiB default caps one stream at 64 KiB per round
 * trip through both sidecars' event loops; 1 MiB lets a bulk body run at the rate the hop can carry (twice the
 * throughput in {@code bench/bulk.sh}; 4 MiB measured no better). Netty's frame codec widens the connection's window
 * to twice the stream's, so what a peer connection can hold unread stays bounded at about 2 MiB. Only mTLS peers,
 * whose certificates were checked at the handshake, get it: plaintext listeners keep the protocol's default. Peers also
 * take DATA frames of up to {@link #MAX_FRAME} (the protocol's default is 16 KiB), so a 64 KiB piece of body crosses the
 * hop as one frame: one frame header, one flow-control step and one read on the other side instead of four.
 */
final class PeerFlowWindow {
    static final int STREAM_WINDOW = 1024 * 1024;
    static final int MAX_FRAME = 64 * 1024;

    private PeerFlowWindow() {
    }

    /** Settings with the peer window, and the protocol's defaults otherwise. */
    static Http2Settings settings() {
        return Http2Settings.defaultSettings().initialWindowSize(STREAM_WINDOW).maxFrameSize(MAX_FRAME);
    }
}
