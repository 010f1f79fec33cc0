package io.trellis.sidecar.transport.netty;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Http2Flushes} on a loopback TCP connection. Each step runs as one task on the connection's event loop, so
 * "the end of the turn" is the next task; what reached the socket is what a handler at the socket end counted.
 */
class Http2FlushesTest {
    private static EventLoopGroup loops;
    private static Channel server;

    private final FlushCounter socket = new FlushCounter();
    private Channel connection;

    @BeforeAll
    static void listen() throws InterruptedException {
        loops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        server = new ServerBootstrap().group(loops).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ReferenceCountUtil.release(msg);
                    }
                })
                .bind("127.0.0.1", 0).sync().channel();
    }

    @AfterAll
    static void stop() {
        server.close().syncUninterruptibly();
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @BeforeEach
    void connect() throws InterruptedException {
        connection = new Bootstrap().group(loops).channel(NioSocketChannel.class)
                .handler(new ChannelInboundHandlerAdapter()).connect(server.localAddress()).sync().channel();
        connection.pipeline().addLast(socket, new Http2Flushes(), new AnswersEachRead());
    }

    @AfterEach
    void close() {
        connection.close().syncUninterruptibly();
    }

    @Test
    void flushesFromOutsideTheConnectionsReadsGoOutOnceAtTheEndOfTheTurn() throws Exception {
        int inTheTurn = onTheLoop(() -> {
            for (int stream = 1; stream <= 5; stream++) {
                connection.writeAndFlush(bytes("stream " + stream));
            }
            return socket.flushes;
        });

        assertThat(inTheTurn).isZero();
        assertThat(onTheLoop(() -> socket.flushes)).isEqualTo(1);
    }

    @Test
    void aFlushWhileTheConnectionReadsGoesOutAtOnceWithWhatWasHeld() throws Exception {
        int inTheTurn = onTheLoop(() -> {
            connection.writeAndFlush(bytes("held"));
            // A GOAWAY written from a read (the flood limit) must not wait behind the rest of the read loop.
            connection.pipeline().fireChannelRead(bytes("PING"));
            return socket.flushes;
        });

        assertThat(inTheTurn).isEqualTo(1);
        assertThat(onTheLoop(() -> socket.flushes)).as("nothing was left held for the turn's task").isEqualTo(1);
    }

    @Test
    void theCodecsFlushAtTheEndOfAReadGoesOutAtOnce() throws Exception {
        connection.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelReadComplete(ChannelHandlerContext ctx) {
                ctx.writeAndFlush(bytes("WINDOW_UPDATE")); // as Http2ConnectionHandler flushes what the read wrote
            }
        });

        int inTheTurn = onTheLoop(() -> {
            connection.pipeline().fireChannelRead(bytes("HEADERS")).fireChannelReadComplete();
            return socket.flushes;
        });

        assertThat(inTheTurn).isEqualTo(2);
    }

    @Test
    void whatFillsATlsRecordGoesOutAtOnce() throws Exception {
        int inTheTurn = onTheLoop(() -> {
            connection.writeAndFlush(bytes("HEADERS"));
            connection.writeAndFlush(Unpooled.wrappedBuffer(new byte[Http2Flushes.RECORD])); // a body's DATA frame
            return socket.flushes;
        });

        assertThat(inTheTurn).isEqualTo(1);
        assertThat(onTheLoop(() -> socket.flushes)).as("nothing was left held for the turn's task").isEqualTo(1);
    }

    @Test
    void closingFlushesWhatIsHeld() throws Exception {
        int inTheTurn = onTheLoop(() -> {
            connection.writeAndFlush(bytes("last words"));
            connection.close();
            return socket.flushes;
        });

        assertThat(inTheTurn).isEqualTo(1);
    }

    @Test
    void aConnectionOverItsWriteBufferMarkIsFlushedAtOnce() throws Exception {
        connection.config().setWriteBufferWaterMark(new WriteBufferWaterMark(8, 16));

        int inTheTurn = onTheLoop(() -> {
            connection.writeAndFlush(bytes("a body piece longer than the mark"));
            return socket.flushes;
        });

        assertThat(inTheTurn).isEqualTo(1);
    }

    private int onTheLoop(Callable<Integer> step) throws Exception {
        return connection.eventLoop().submit(step).get(5, TimeUnit.SECONDS);
    }

    private static ByteBuf bytes(String text) {
        return Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII);
    }

    /** Counts the flushes that reach the connection's socket end. */
    private static final class FlushCounter extends ChannelOutboundHandlerAdapter {
        int flushes;

        @Override
        public void flush(ChannelHandlerContext ctx) {
            flushes++;
            ctx.flush();
        }
    }

    /** Answers each message it reads with a flushed write, as a flood limit's GOAWAY is. */
    private static final class AnswersEachRead extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
            ctx.writeAndFlush(bytes("answer"));
        }
    }
}
