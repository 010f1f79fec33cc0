package io.trellis.sidecar.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.RequestEntity;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class BodyStreamsTest {
    private static final ActorTestKit KIT = ActorTestKit.create();
    private static final Materializer MATERIALIZER = Materializer.matFromSystem(KIT.system());

    @AfterAll
    static void stop() {
        KIT.shutdownTestKit();
    }

    @Test
    void aRecordedBodyThatEndedWithinTheLimitReplaysWithItsChunksAndTrailers() throws Exception {
        HttpRequest request = HttpRequest.POST("/").withEntity((RequestEntity) chunked(List.of(
                HttpEntity.ChunkStreamPart.create(ByteString.fromString("ab")),
                HttpEntity.ChunkStreamPart.create(ByteString.fromString("cd")),
                lastChunkWith(RawHeader.create("grpc-status", "0")))));
        BodyStreams.Recording recording = new BodyStreams.Recording(10);

        HttpRequest sent = recording.record(request);
        assertThat(recording.replayable()).as("before the body was read").isFalse();
        assertThat(parts(sent)).hasSize(3);

        assertThat(recording.replayable()).isTrue();
        for (int replay = 0; replay < 2; replay++) {
            List<HttpEntity.ChunkStreamPart> parts = parts(recording.replay(request));
            assertThat(parts).extracting(part -> part.data().utf8String()).containsExactly("ab", "cd", "");
            assertThat(parts.get(2).isLastChunk()).isTrue();
            assertThat(parts.get(2).getTrailerHeaders()).extracting(h -> h.value()).containsExactly("0");
        }
    }

    @Test
    void aBodyLargerThanTheLimitPassesWholeButCannotBeReplayed() throws Exception {
        HttpRequest request = HttpRequest.POST("/").withEntity(HttpEntities.createChunked(ContentTypes.APPLICATION_OCTET_STREAM,
                Source.from(List.of(ByteString.fromString("0123"), ByteString.fromString("4567"), ByteString.fromString("89")))));
        BodyStreams.Recording recording = new BodyStreams.Recording(5);

        ByteString all = recording.record(request).entity().getDataBytes()
                .runWith(Sink.fold(ByteString.emptyByteString(), ByteString::concat), MATERIALIZER).toCompletableFuture()
                .get(5, TimeUnit.SECONDS);

        assertThat(all.utf8String()).isEqualTo("0123456789");
        assertThat(recording.replayable()).isFalse();
    }

    @Test
    void aWatcherOfABodyItsEngineCannotWatchSeesItsBytesTrailersAndEnd() throws Exception {
        HttpRequest request = HttpRequest.POST("/").withEntity((RequestEntity) chunked(List.of(
                HttpEntity.ChunkStreamPart.create(ByteString.fromString("ab")),
                lastChunkWith(RawHeader.create("grpc-status", "7")))));
        List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();

        HttpRequest watched = BodyStreams.watch(request, new BodyWatcher() {
            @Override
            public void started() {
                seen.add("started");
            }

            @Override
            public boolean seesData() {
                return true;
            }

            @Override
            public void data(ByteString bytes) {
                seen.add("data " + bytes.utf8String());
            }

            @Override
            public void trailers(Iterable<org.apache.pekko.http.javadsl.model.HttpHeader> trailers) {
                trailers.forEach(trailer -> seen.add("trailer " + trailer.name() + "=" + trailer.value()));
            }

            @Override
            public void ended(boolean readToEnd) {
                seen.add("ended " + readToEnd);
            }
        });
        assertThat(watched.entity()).as("rebuilt around a stream operator").isNotSameAs(request.entity());
        assertThat(parts(watched)).hasSize(2);

        assertThat(seen).containsExactly("started", "data ab", "trailer grpc-status=7", "ended true");
    }

    @Test
    void aStalledBodyFailsWithItsWatchersFailure() {
        HttpRequest request = HttpRequest.POST("/").withEntity(HttpEntities.createChunked(ContentTypes.APPLICATION_OCTET_STREAM,
                Source.<ByteString>maybe().mapMaterializedValue(promise -> (Object) promise)));

        HttpRequest watched = BodyStreams.watch(request, BodyStreams.requestIdleTimeout(java.time.Duration.ofMillis(100)));

        java.util.concurrent.CompletableFuture<ByteString> read = watched.entity().getDataBytes()
                .runWith(Sink.fold(ByteString.emptyByteString(), ByteString::concat), MATERIALIZER).toCompletableFuture();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> read.get(10, TimeUnit.SECONDS))
                .hasCauseInstanceOf(io.trellis.sidecar.errors.ProxyException.class)
                .hasMessageContaining("carried no byte for 100 ms");
    }

    private static List<HttpEntity.ChunkStreamPart> parts(HttpRequest request) throws Exception {
        return ((org.apache.pekko.http.scaladsl.model.HttpEntity.Chunked) request.entity()).getChunks()
                .runWith(Sink.seq(), MATERIALIZER).toCompletableFuture().get(5, TimeUnit.SECONDS);
    }

    @SuppressWarnings("unchecked")
    private static HttpEntity chunked(List<HttpEntity.ChunkStreamPart> parts) {
        Source<HttpEntity.ChunkStreamPart, ?> source = Source.from(parts);
        return new org.apache.pekko.http.scaladsl.model.HttpEntity.Chunked(
                (org.apache.pekko.http.scaladsl.model.ContentType) ContentTypes.APPLICATION_OCTET_STREAM,
                (org.apache.pekko.stream.scaladsl.Source<org.apache.pekko.http.scaladsl.model.HttpEntity.ChunkStreamPart, Object>)
                        (org.apache.pekko.stream.scaladsl.Source<?, ?>) source.asScala());
    }

    private static HttpEntity.ChunkStreamPart lastChunkWith(RawHeader trailer) {
        scala.collection.immutable.List<org.apache.pekko.http.scaladsl.model.HttpHeader> trailers =
                scala.jdk.javaapi.CollectionConverters.asScala(
                        List.of((org.apache.pekko.http.scaladsl.model.HttpHeader) (Object) trailer)).toList();
        return new org.apache.pekko.http.scaladsl.model.HttpEntity.LastChunk("", trailers);
    }
}
