package io.trellis.samples.inventory;

import com.typesafe.config.ConfigFactory;
import io.grpc.Status;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcServiceException;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The inventory sample: a gRPC service (h2c on 127.0.0.1) that knows a few items. It has no TLS, no retries,
 * no metrics: its sidecar adds them. Usage: {@code InventoryApp PORT}.
 */
public final class InventoryApp implements Inventory {
    private static final Map<String, Item> ITEMS = Map.of(
            "apple", Item.newBuilder().setSku("apple").setName("Apple").setInStock(42).setPriceCents(50).build(),
            "pear", Item.newBuilder().setSku("pear").setName("Pear").setInStock(7).setPriceCents(65).build(),
            "fig", Item.newBuilder().setSku("fig").setName("Fig").setInStock(0).setPriceCents(120).build());

    @Override
    public CompletionStage<Item> getItem(GetItemRequest request) {
        Item item = ITEMS.get(request.getSku());
        if (item == null) {
            return CompletableFuture.failedFuture(
                    new GrpcServiceException(Status.NOT_FOUND.withDescription("no item " + request.getSku())));
        }
        return CompletableFuture.completedFuture(item);
    }

    @Override
    public Source<StockLevel, NotUsed> watchStock(WatchStockRequest request) {
        Item item = ITEMS.get(request.getSku());
        if (item == null) {
            return Source.failed(new GrpcServiceException(Status.NOT_FOUND.withDescription("no item " + request.getSku())));
        }
        int updates = Math.max(1, Math.min(100, request.getUpdates()));
        return Source.range(0, updates - 1)
                .throttle(1, Duration.ofMillis(20))
                .map(i -> StockLevel.newBuilder().setSku(item.getSku()).setInStock(Math.max(0, item.getInStock() - i))
                        .setAtEpochMillis(System.currentTimeMillis()).build());
    }

    /** Starts the service on 127.0.0.1:{@code args[0]}. */
    public static void main(String[] args) {
        int port = Integer.parseInt(args[0]);
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "inventory",
                ConfigFactory.parseString("pekko.http.server.enable-http2 = on").withFallback(ConfigFactory.load()));
        Http.get(system).newServerAt("127.0.0.1", port)
                .bind(InventoryHandlerFactory.create(new InventoryApp(), system))
                .thenAccept(binding -> system.log().info("inventory (gRPC) listening on {}", binding.localAddress()));
    }
}
