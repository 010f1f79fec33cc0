package io.trellis.sidecar.kafka;

import io.trellis.certs.SpiffeId;
import io.trellis.sidecar.config.Backoff;
import io.trellis.sidecar.config.PublishPolicy;
import io.trellis.sidecar.config.RoutingTable;
import io.trellis.sidecar.config.RoutingTableRef;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import io.trellis.sidecar.transport.netty.AppClient;
import io.trellis.sidecar.transport.PekkoFutures;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;

/**
 * The sidecar's Kafka bridge (DESIGN.md §6), assembled in one place: the publisher behind
 * {@code POST /v1/publish/{topic}}, and the {@link SubscriptionSupervisor} that runs the subscriptions each
 * accepted snapshot names, delivering to the app on 127.0.0.1:{@code appPort}. The brokers are
 * {@code --kafka-bootstrap} when given, else the mesh config's.
 */
public final class KafkaBridge {
    private final EventPublisher publisher;
    private final PublishEndpoint endpoint;
    private final ActorRef<SubscriptionSupervisor.Command> supervisor;
    private final AppClient app;
    private final ActorSystem<?> system;

    private KafkaBridge(ActorSystem<?> system, EventPublisher publisher, PublishEndpoint endpoint,
            ActorRef<SubscriptionSupervisor.Command> supervisor, AppClient app) {
        this.system = system;
        this.publisher = publisher;
        this.endpoint = endpoint;
        this.supervisor = supervisor;
        this.app = app;
    }

    /**
     * Starts the bridge and applies the current table's subscriptions (and every later table's).
     *
     * @param brokerOverride {@code --kafka-bootstrap}, or empty to follow the mesh config
     * @param service this sidecar's service (Kafka client ids start with it)
     */
    public static KafkaBridge start(ActorSystem<?> system, SpiffeId self, String service, AppClient app, int appPort,
            String brokerOverride, RoutingTableRef tables, ProxyMetrics metrics, Clock clock) {
        java.util.function.Supplier<String> brokers = () -> !brokerOverride.isEmpty() ? brokerOverride
                : tables.current().map(t -> t.mesh().kafkaBootstrapServers()).orElse("");
        EventPublisher publisher = new EventPublisher(system, brokers);
        PublishEndpoint endpoint = new PublishEndpoint(system, publisher, self,
                () -> tables.current().map(RoutingTable::publish).orElse(PublishPolicy.OPEN), metrics, clock);
        DeadLetters deadLetters = new DeadLetters(system, publisher, clock);
        ActorRef<SubscriptionSupervisor.Command> supervisor = system.systemActorOf(SubscriptionSupervisor.create(
                subscription -> new EventDelivery(system, app, appPort, subscription, deadLetters, metrics,
                        new Backoff(subscription.backoffBase(), subscription.backoffMax(), () -> ThreadLocalRandom.current().nextDouble())),
                service, metrics), "kafka-subscriptions", Props.empty());
        tables.onPublish(table -> supervisor.tell(new SubscriptionSupervisor.Apply(table.subscriptions(), brokers.get())));
        supervisor.tell(new SubscriptionSupervisor.Apply(tables.current().map(RoutingTable::subscriptions).orElse(List.of()),
                brokers.get()));
        return new KafkaBridge(system, publisher, endpoint, supervisor, app);
    }

    /** The publish endpoint of the local API. */
    public PublishEndpoint publishEndpoint() {
        return endpoint;
    }

    /**
     * Drains the subscriptions (deliveries in flight finish, offsets are committed) within {@code timeout}; what is
     * still in flight then is not committed, so it is delivered again after a restart.
     */
    public CompletionStage<Done> drain(Duration timeout) {
        return PekkoFutures.direct(AskPattern.<SubscriptionSupervisor.Command, Done>ask(supervisor, SubscriptionSupervisor.Drain::new,
                timeout, system.scheduler())).exceptionally(timedOut -> Done.getInstance());
    }

    /** Closes the producer (after flushing); call after {@link #drain}. The app connections are the sidecar's to close. */
    public CompletionStage<Done> close() {
        return PekkoFutures.direct(publisher.close()).exceptionally(error -> Done.getInstance());
    }
}
