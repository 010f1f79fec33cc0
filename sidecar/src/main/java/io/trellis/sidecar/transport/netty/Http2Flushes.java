package io.trellis.sidecar.transport.netty;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;

/**
 * Gathers the flushes an HTTP/2 connection gets from outside its own reads into one per event-loop turn. Its streams
 * are written from other channels' reads (a response from the app's connection, a request from the app's listener),
 * each with a flush of its own: a TLS record and a write(2) per stream. Gathered, the streams finished in one turn of
 * the loop go out in one flush, which costs the rest of the turn's latency, microseconds, and saves a system call and
 * a record per stream under load.
 *
 * <p>Not held: a flush made while the connection itself is reading (the HTTP/2 codec already defers its own and its
 * streams' flushes to the end of the read, so what is flushed inside one is deliberate: a GOAWAY, or the codec's flush
 * when its queue of control-frame answers is full); a flush once what waits fills a TLS record ({@link #RECORD}
 * bytes: a body's frames gain nothing from waiting); and a flush while the write buffer is over its mark. Netty's
 * {@code FlushConsolidationHandler} holds the first kind too, until the read loop ends: a PING flood read in one loop
 * then piled up to 10,000 unsent acknowledgements behind its GOAWAY (and, with paranoid leak detection, a heap's worth
 * of their traces). Sits between the TLS handler and the codec; lives on the connection's event loop.
 */
final class Http2Flushes extends ChannelDuplexHandler {
    static final int RECORD = 16 * 1024;

    private boolean reading;
    private boolean held;
    private long unflushed;
    private final Runnable flushHeld = this::flushHeld;
    private ChannelHandlerContext ctx;

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        reading = true;
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ctx.fireChannelReadComplete(); // the codec flushes what the read wrote: that flush goes straight through
        reading = false;
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof ByteBuf bytes) {
            unflushed += bytes.readableBytes();
        }
        ctx.write(msg, promise);
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        if (reading || unflushed >= RECORD || !ctx.channel().isWritable()) {
            held = false; // this flush takes what was held with it
            unflushed = 0;
            ctx.flush();
        } else if (!held) {
            held = true;
            ctx.executor().execute(flushHeld);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (!ctx.channel().isWritable()) {
            flushHeld();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        flushHeld();
        ctx.close(promise);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        flushHeld();
    }

    private void flushHeld() {
        if (held) {
            held = false;
            unflushed = 0;
            ctx.flush();
        }
    }
}
