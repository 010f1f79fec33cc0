package io.trellis.samples.orders;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.trellis.samples.inventory.GetItemRequest;
import io.trellis.samples.inventory.InventoryClient;
import io.trellis.samples.inventory.WatchStockRequest;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.Query;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.japi.function.Function;
import org.apache.pekko.stream.javadsl.Sink;

/**
 * The orders sample: an HTTP/JSON service that asks inventory (gRPC) for prices and stock. It calls
 * inventory in plaintext on a local port that its sidecar declares ({@code --upstream inventory=PORT}); the
 * sidecar adds mTLS, routing and metrics. Placed orders are published as events through the sidecar's API (the
 * app has no Kafka client). Usage: {@code OrdersApp PORT INVENTORY_LOCAL_PORT [SIDECAR_API_PORT]}.
 *
 * <ul>
 *   <li>{@code GET /orders/quote?sku=apple&quantity=3}: price for a quantity (unary call)</li>
 *   <li>{@code GET /orders/stock?sku=apple}: the next stock levels (server-streaming call)</li>
 *   <li>{@code POST /orders?sku=apple&quantity=3}: prices the order, then publishes {@code order.placed} to the
 *       {@code orders} topic ({@code POST 127.0.0.1:SIDECAR_API_PORT/v1/publish/orders})</li>
 * </ul>
 */
public final class OrdersApp {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ActorSystem<?> system;
    private final InventoryClient inventory;
    private final int sidecarApiPort;

    private OrdersApp(ActorSystem<?> system, InventoryClient inventory, int sidecarApiPort) {
        this.system = system;
        this.inventory = inventory;
        this.sidecarApiPort = sidecarApiPort;
    }

    private CompletionStage<HttpResponse> handle(HttpRequest request) {
        Query query = request.getUri().query();
        String sku = query.get("sku").orElse("apple");
        request.discardEntityBytes(system);
        switch (request.getUri().path()) {
            case "/orders": {
                int quantity = Integer.parseInt(query.get("quantity").orElse("1"));
                return inventory.getItem(GetItemRequest.newBuilder().setSku(sku).build())
                        .thenCompose(item -> publish(JSON.createObjectNode().put("orderId", java.util.UUID.randomUUID().toString())
                                .put("sku", item.getSku()).put("quantity", quantity)
                                .put("totalCents", item.getPriceCents() * quantity).toString()))
                        .exceptionally(error -> json(502, "{\"error\":\"" + error.getMessage().replace('"', '\'') + "\"}"));
            }
            case "/orders/quote": {
                int quantity = Integer.parseInt(query.get("quantity").orElse("1"));
                return inventory.getItem(GetItemRequest.newBuilder().setSku(sku).build()).thenApply(item -> {
                    ObjectNode quote = JSON.createObjectNode().put("sku", item.getSku()).put("name", item.getName())
                            .put("quantity", quantity).put("totalCents", item.getPriceCents() * quantity)
                            .put("available", item.getInStock() >= quantity);
                    return json(200, quote.toString());
                }).exceptionally(error -> json(502, "{\"error\":\"inventory: " + error.getMessage().replace('"', '\'') + "\"}"));
            }
            case "/orders/stock": {
                ArrayNode levels = JSON.createArrayNode();
                return inventory.watchStock(WatchStockRequest.newBuilder().setSku(sku).setUpdates(3).build())
                        .runWith(Sink.foreach(level -> levels.add(JSON.createObjectNode().put("inStock", level.getInStock())
                                .put("at", level.getAtEpochMillis()))), system)
                        .thenApply(done -> json(200, JSON.createObjectNode().put("sku", sku).set("levels", levels).toString()))
                        .exceptionally(error -> json(502, "{\"error\":\"inventory: " + error.getMessage().replace('"', '\'') + "\"}"));
            }
            default:
                return CompletableFuture.completedFuture(json(404, "{\"error\":\"try /orders/quote, /orders/stock or POST /orders\"}"));
        }
    }

    /** Publishes {@code order} through the sidecar; answers 201 only once the sidecar says the broker has it. */
    private CompletionStage<HttpResponse> publish(String order) {
        HttpRequest publish = HttpRequest.POST("http://127.0.0.1:" + sidecarApiPort + "/v1/publish/orders")
                .addHeader(RawHeader.create("ce-type", "io.trellis.samples.order.placed"))
                .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, order));
        return Http.get(system).singleRequest(publish).thenCompose(answer -> answer.entity().toStrict(5_000, system)
                .thenApply(body -> answer.status().intValue() == 204
                        ? json(201, "{\"order\":" + order + ",\"event\":\"" + answer.getHeader("trellis-event-id")
                                .map(h -> h.value()).orElse("") + "\"}")
                        : json(502, "{\"error\":\"publishing failed: " + answer.status().intValue() + " "
                                + body.getData().utf8String().replace('"', '\'') + "\"}")));
    }

    private static HttpResponse json(int status, String body) {
        return HttpResponse.create().withStatus(status).withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, body));
    }

    /** Starts the service on 127.0.0.1:{@code args[0]}, calling inventory at 127.0.0.1:{@code args[1]}. */
    public static void main(String[] args) {
        int port = Integer.parseInt(args[0]);
        int inventoryPort = Integer.parseInt(args[1]);
        int sidecarApiPort = args.length > 2 ? Integer.parseInt(args[2]) : 15002;
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "orders");
        InventoryClient inventory = InventoryClient.create(
                GrpcClientSettings.connectToServiceAt("127.0.0.1", inventoryPort, system).withTls(false).withBackend("pekko-http"),
                system);
        OrdersApp app = new OrdersApp(system, inventory, sidecarApiPort);
        Http.get(system).newServerAt("127.0.0.1", port)
                .bind((Function<HttpRequest, CompletionStage<HttpResponse>>) app::handle)
                .thenAccept(binding -> system.log().info("orders (HTTP) listening on {}", binding.localAddress()));
    }
}
