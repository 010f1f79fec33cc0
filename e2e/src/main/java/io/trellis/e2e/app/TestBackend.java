package io.trellis.e2e.app;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.grpc.Status;
import io.trellis.e2e.echo.EchoPowerApi;
import io.trellis.e2e.echo.EchoPowerApiHandlerFactory;
import io.trellis.e2e.echo.Message;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.grpc.GrpcServiceException;
import org.apache.pekko.grpc.javadsl.Metadata;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.japi.function.Function;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

/**
 * The app behind the server sidecar in whole-mesh tests: one h2c/HTTP/1.1 port serving the {@code Echo} gRPC
 * service (every call shape) and a few HTTP routes that report what the app received: {@code /echo} (any other
 * path too: method, path, headers, body size and the backend's name), {@code /bytes?n=} (streamed download),
 * {@code /upload} (counted upload), {@code /slow?ms=}, {@code /status?code=}, and {@code /flaky} (503 and 200 in
 * turn). Requests are counted by method and path.
 */
public final class TestBackend implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ServerBinding binding;
    private final String name;
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong flaky = new AtomicLong();
    private final java.util.concurrent.ConcurrentHashMap<String, AtomicLong> byRoute = new java.util.concurrent.ConcurrentHashMap<>();

    private TestBackend(ActorSystem<?> system, int port, String name) {
        this.name = name;
        Materializer materializer = Materializer.matFromSystem(system);
        Function<HttpRequest, CompletionStage<HttpResponse>> grpc =
                EchoPowerApiHandlerFactory.create(new EchoService(materializer), system);
        this.binding = Http.get(system).newServerAt("127.0.0.1", port)
                .bind((Function<HttpRequest, CompletionStage<HttpResponse>>) request -> {
                    requests.incrementAndGet();
                    byRoute.computeIfAbsent(request.method().value() + " " + request.getUri().path(), k -> new AtomicLong())
                            .incrementAndGet();
                    return request.entity().getContentType().mediaType().toString().startsWith("application/grpc")
                            ? grpc.apply(request) : http(request, materializer);
                })
                .toCompletableFuture().join();
    }

    /** Starts a backend on 127.0.0.1:{@code port} (0 = any free port); HTTP/2 must be enabled in the system's config. */
    public static TestBackend start(ActorSystem<?> system, int port) {
        return new TestBackend(system, port, "backend");
    }

    /** Starts a backend that reports {@code name} in its echo answers (to tell subsets apart). */
    public static TestBackend start(ActorSystem<?> system, int port, String name) {
        return new TestBackend(system, port, name);
    }

    /** Requests received with {@code method} on {@code path}. */
    public long requests(String method, String path) {
        AtomicLong count = byRoute.get(method + " " + path);
        return count == null ? 0 : count.get();
    }

    /** The bound port. */
    public int port() {
        return binding.localAddress().getPort();
    }

    /** Requests received so far. */
    public long requests() {
        return requests.get();
    }

    @Override
    public void close() {
        binding.unbind();
    }

    private CompletionStage<HttpResponse> http(HttpRequest request, Materializer materializer) {
        switch (request.getUri().path()) {
            case "/bytes": {
                long n = Long.parseLong(request.getUri().query().get("n").orElse("0"));
                ByteString chunk = ByteString.fromArray(new byte[64 * 1024]);
                Source<ByteString, NotUsed> body = Source.repeat(chunk).take(n / chunk.size())
                        .concat(Source.single(chunk.take((int) (n % chunk.size()))));
                return request.discardEntityBytes(materializer).completionStage().thenApply(done -> HttpResponse.create()
                        .withEntity(HttpEntities.create(ContentTypes.APPLICATION_OCTET_STREAM, n, body)));
            }
            case "/upload":
                return request.entity().getDataBytes().runFold(0L, (sum, bytes) -> sum + bytes.size(), materializer)
                        .thenApply(total -> json(JSON.createObjectNode().put("bytes", total)));
            case "/slow": {
                long millis = Long.parseLong(request.getUri().query().get("ms").orElse("1000"));
                return request.discardEntityBytes(materializer).completionStage()
                        .thenCompose(done -> org.apache.pekko.pattern.Patterns.after(java.time.Duration.ofMillis(millis),
                                materializer.system().scheduler(), materializer.executionContext(),
                                () -> CompletableFuture.completedFuture(json(JSON.createObjectNode().put("sleptMs", millis)))));
            }
            case "/flaky": {
                int code = flaky.incrementAndGet() % 2 == 1 ? 503 : 200;
                return request.discardEntityBytes(materializer).completionStage()
                        .thenApply(done -> HttpResponse.create().withStatus(code));
            }
            case "/status": {
                int code = Integer.parseInt(request.getUri().query().get("code").orElse("200"));
                return request.discardEntityBytes(materializer).completionStage()
                        .thenApply(done -> HttpResponse.create().withStatus(code));
            }
            default:
                return request.entity().toStrict(10_000, materializer).thenApply(strict -> {
                    ObjectNode seen = JSON.createObjectNode()
                            .put("backend", name)
                            .put("method", request.method().value())
                            .put("path", request.getUri().path())
                            .put("protocol", request.protocol().value())
                            .put("bodyBytes", strict.getData().size());
                    ObjectNode headers = seen.putObject("headers");
                    for (HttpHeader header : request.getHeaders()) {
                        headers.put(header.lowercaseName(), header.value());
                    }
                    return json(seen);
                });
        }
    }

    private static HttpResponse json(ObjectNode body) {
        return HttpResponse.create().withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, body.toString()));
    }

    /** Echo: every call shape; the text {@code fail:N} makes the call fail with gRPC status N. */
    private static final class EchoService implements EchoPowerApi {
        private final Materializer materializer;

        EchoService(Materializer materializer) {
            this.materializer = materializer;
        }

        private static Message reply(Message in, Metadata metadata, String text) {
            if (in.getText().startsWith("fail:")) {
                throw new GrpcServiceException(Status.fromCodeValue(Integer.parseInt(in.getText().substring(5)))
                        .withDescription("asked to fail"));
            }
            return Message.newBuilder().setText(text).setCount(in.getCount())
                    .setPeer(metadata.getText("trellis-peer-identity").orElse("")).build();
        }

        @Override
        public CompletionStage<Message> unary(Message in, Metadata metadata) {
            if (in.getText().startsWith("header:")) {
                // Reports a request header the app received, e.g. the grpc-timeout a sidecar propagated.
                String name = in.getText().substring("header:".length());
                return CompletableFuture.completedFuture(Message.newBuilder().setText(metadata.getText(name).orElse("")).build());
            }
            try {
                return CompletableFuture.completedFuture(reply(in, metadata, "echo:" + in.getText()));
            } catch (GrpcServiceException e) {
                return CompletableFuture.failedFuture(e);
            }
        }

        @Override
        public Source<Message, NotUsed> serverStream(Message in, Metadata metadata) {
            return Source.range(1, Math.max(0, in.getCount()))
                    .map(i -> reply(in, metadata, in.getText() + "#" + i));
        }

        @Override
        public CompletionStage<Message> clientStream(Source<Message, NotUsed> in, Metadata metadata) {
            return in.runFold(new StringBuilder(), (all, m) -> all.append(m.getText()), materializer)
                    .thenApply(all -> Message.newBuilder().setText(all.toString())
                            .setPeer(metadata.getText("trellis-peer-identity").orElse("")).build());
        }

        @Override
        public Source<Message, NotUsed> bidi(Source<Message, NotUsed> in, Metadata metadata) {
            return in.map(m -> reply(m, metadata, "re:" + m.getText()));
        }
    }
}
