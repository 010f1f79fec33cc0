package io.trellis.sidecar.outbound;

import io.netty.channel.Channel;
import io.trellis.sidecar.config.Cluster;
import io.trellis.sidecar.config.RoutingTable;
import io.trellis.sidecar.config.RoutingTableRef;
import io.trellis.sidecar.tcp.TcpUpstreams;
import io.trellis.sidecar.transport.netty.Redirects;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Where the app's redirected connections go (transparent interception, docs/kubernetes.md): an HTTP connection whose
 * {@code Host} names a mesh service is routed by it, as on the outbound port; one to a mesh service's virtual address
 * (its Kubernetes ClusterIP) or to the address of a mesh workload (a pod's IP) goes to that service; every other connection passes through to where it was going, and so
 * does any connection that is not HTTP, unless the address is the mesh's, whose TCP then goes through a tunnel. Under
 * the mesh's {@code REGISTRY_ONLY} outbound policy nothing passes through: HTTP gets the pipeline's answer for a
 * destination it does not know, other connections are reset (and so are they while the sidecar has no config yet).
 */
public final class RedirectedConnections implements Redirects {
    private final RoutingTableRef tables;
    private final String namespace;
    private final TcpUpstreams tcp;
    /** The index of the table last asked about; replaced when a new table is published (a benign race: both build it). */
    private volatile AddressIndex index;

    public RedirectedConnections(RoutingTableRef tables, String namespace, TcpUpstreams tcp) {
        this.tables = tables;
        this.namespace = namespace;
        this.tcp = tcp;
    }

    @Override
    public Optional<String> http(InetSocketAddress original, String host) {
        Optional<RoutingTable> table = tables.current();
        if (table.isEmpty()) {
            return Optional.of("");     // the pipeline answers that the sidecar has no config yet
        }
        if (host != null && table.get().resolve(host, namespace).isPresent()) {
            return Optional.of("");
        }
        Optional<String> service = meshAt(table.get(), original)
                .map(cluster -> cluster.name().name() + "." + cluster.name().namespace());
        // REGISTRY_ONLY: the pipeline answers that the destination is not the mesh's, in its error shape.
        return service.isPresent() || !table.get().mesh().registryOnly() ? service : Optional.of("");
    }

    @Override
    public void tcp(Channel connection, InetSocketAddress original) {
        Optional<RoutingTable> table = tables.current();
        tcp.redirected(connection, original, table.flatMap(t -> meshAt(t, original)),
                table.map(t -> !t.mesh().registryOnly()).orElse(false));
    }

    /** The mesh service whose virtual address (ClusterIP) or workload has {@code address}'s IP, if any. */
    private Optional<Cluster> meshAt(RoutingTable table, InetSocketAddress address) {
        return Optional.ofNullable(index(table).get(address.getAddress().getHostAddress()));
    }

    /** The mesh clusters by their addresses, derived once per routing table rather than searched per connection. */
    private Map<String, Cluster> index(RoutingTable table) {
        AddressIndex current = index;
        if (current == null || current.table() != table) {
            Map<String, Cluster> byAddress = new HashMap<>();
            for (Cluster cluster : table.clusters().values()) {
                if (cluster.external()) {
                    continue;
                }
                cluster.virtualAddresses().forEach(ip -> byAddress.putIfAbsent(ip, cluster));
                cluster.endpoints().forEach(endpoint -> byAddress.putIfAbsent(endpoint.address(), cluster));
            }
            current = new AddressIndex(table, Map.copyOf(byAddress));
            index = current;
        }
        return current.byAddress();
    }

    /** One routing table's clusters by address. */
    private record AddressIndex(RoutingTable table, Map<String, Cluster> byAddress) {
    }
}
