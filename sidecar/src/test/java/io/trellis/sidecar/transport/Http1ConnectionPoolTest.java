package io.trellis.sidecar.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.AttributeKeys;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.Connection;
import org.apache.pekko.japi.function.Function;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The sidecar's HTTP/1.1 connections to its app, against a real Pekko HTTP server on loopback. */
class Http1ConnectionPoolTest {
    private static final ActorTestKit KIT = ActorTestKit.create(ConfigFactory.parseString(
            "pekko.http.server.remote-address-attribute = on"));
    private static final Materializer MATERIALIZER = Materializer.matFromSystem(KIT.system());
    /** The client port of every request the server saw: one port per connection. */
    private static final List<Integer> CLIENT_PORTS = new CopyOnWriteArrayList<>();
    private static final ServerBinding SERVER = Http.get(KIT.system()).newServerAt("127.0.0.1", 0)
            .bind((Function<HttpRequest, CompletionStage<HttpResponse>>) Http1ConnectionPoolTest::app)
            .toCompletableFuture().join();

    private final Http1ConnectionPool pool = new Http1ConnectionPool(() -> Http1Connection.open("test app",
            Http.get(KIT.system()).connectionTo("127.0.0.1").toPort(SERVER.localAddress().getPort()).http(), MATERIALIZER));

    @AfterAll
    static void stop() {
        SERVER.unbind();
        KIT.shutdownTestKit();
    }

    @BeforeEach
    void forgetConnections() {
        CLIENT_PORTS.clear();
    }

    @Test
    void sequentialRequestsShareOneConnection() throws Exception {
        for (int i = 0; i < 5; i++) {
            assertThat(body(send("/ok"))).isEqualTo("ok");
        }
        assertThat(CLIENT_PORTS.stream().distinct().count()).isEqualTo(1);
    }

    @Test
    void aStreamedBodyReadToTheEndGivesTheConnectionBack() throws Exception {
        assertThat(body(send("/stream"))).isEqualTo("abc");
        assertThat(body(send("/ok"))).isEqualTo("ok");
        assertThat(CLIENT_PORTS.stream().distinct().count()).isEqualTo(1);
    }

    @Test
    void aBodyCutShortClosesItsConnection() throws Exception {
        HttpResponse streamed = send("/stream");
        streamed.entity().getDataBytes().runWith(Sink.cancelled(), MATERIALIZER);
        assertThat(body(send("/ok"))).isEqualTo("ok");
        assertThat(CLIENT_PORTS.stream().distinct().count()).isEqualTo(2);
    }

    @Test
    void aResponseThatClosesTheConnectionIsNotReused() throws Exception {
        assertThat(body(send("/close"))).isEqualTo("bye");
        assertThat(body(send("/ok"))).isEqualTo("ok");
        assertThat(CLIENT_PORTS.stream().distinct().count()).isEqualTo(2);
    }

    @Test
    void anAbandonedRequestFailsAndItsConnectionIsNotReused() throws Exception {
        CompletableFuture<Void> abandoned = new CompletableFuture<>();
        CompletableFuture<HttpResponse> hung = pool.send(HttpRequest.create("/hang"), abandoned).toCompletableFuture();
        awaitRequests(1);

        abandoned.complete(null);

        assertThatThrownBy(() -> hung.get(5, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class);
        assertThat(body(send("/ok"))).isEqualTo("ok");
        assertThat(CLIENT_PORTS.stream().distinct().count()).isEqualTo(2);
    }

    @Test
    void closingAnEndedConnectionOrClosingTwiceIsQuiet() throws Exception {
        Http1Connection connection = Http1Connection.open("test app",
                Http.get(KIT.system()).connectionTo("127.0.0.1").toPort(SERVER.localAddress().getPort()).http(), MATERIALIZER);
        assertThat(body(connection.send(HttpRequest.create("/close")).get(5, TimeUnit.SECONDS))).isEqualTo("bye");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (connection.isOpen() && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertThat(connection.isOpen()).isFalse();
        org.assertj.core.api.Assertions.assertThatCode(connection::close).doesNotThrowAnyException();
        org.assertj.core.api.Assertions.assertThatCode(connection::close).as("twice").doesNotThrowAnyException();
    }

    private HttpResponse send(String path) throws Exception {
        return pool.send(HttpRequest.create(path), new CompletableFuture<>()).toCompletableFuture().get(5, TimeUnit.SECONDS);
    }

    private static String body(HttpResponse response) throws Exception {
        return response.entity().toStrict(5_000, MATERIALIZER).toCompletableFuture().get(5, TimeUnit.SECONDS)
                .getData().utf8String();
    }

    private static void awaitRequests(int count) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (CLIENT_PORTS.size() < count) {
            assertThat(System.nanoTime()).as("server saw the request within 5 s").isLessThan(until);
            Thread.sleep(10);
        }
    }

    private static CompletionStage<HttpResponse> app(HttpRequest request) {
        request.getAttribute(AttributeKeys.remoteAddress).ifPresent(remote -> CLIENT_PORTS.add(remote.getPort()));
        switch (request.getUri().path()) {
            case "/stream":
                return CompletableFuture.completedFuture(HttpResponse.create().withEntity(HttpEntities.createChunked(
                        ContentTypes.TEXT_PLAIN_UTF8, Source.from(List.of("a", "b", "c")).map(ByteString::fromString))));
            case "/close":
                return CompletableFuture.completedFuture(HttpResponse.create().withEntity("bye")
                        .addHeader(Connection.create("close")));
            case "/hang":
                return new CompletableFuture<>();
            default:
                return CompletableFuture.completedFuture(HttpResponse.create().withEntity("ok"));
        }
    }
}
