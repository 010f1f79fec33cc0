package io.trellis.controlplane.registry;

import io.trellis.certs.SpiffeId;
import io.trellis.controlplane.resource.Kind;
import io.trellis.controlplane.resource.Resource;
import io.trellis.controlplane.resource.ServiceBindingSpec;
import io.trellis.controlplane.store.MeshState;
import java.net.InetAddress;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Who may register as an instance of which service, and at which address (issue 12: an endpoint is only as
 * trustworthy as its registration). A proxy's certificate proves its identity; what it announces in Hello is a claim,
 * checked here before the registry lists it:
 * <ul>
 *   <li>the service: the identity's service account must be named like the service, or be listed by a
 *       {@link ServiceBindingSpec ServiceBinding} for that service in the identity's namespace;</li>
 *   <li>the address: it must be the address the control-plane connection comes from (two loopback addresses
 *       match: a proxy on this host may announce any of them), unless the operator trusts announced addresses
 *       ({@code trellis.trust-announced-addresses}, for proxies behind NAT).</li>
 * </ul>
 * Reads the store's current state; stateless otherwise.
 */
public final class RegistrationPolicy {
    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

    private final Supplier<MeshState> state;
    private final boolean trustAnnouncedAddresses;

    /** A policy over {@code state}; {@code trustAnnouncedAddresses} skips the address check. */
    public RegistrationPolicy(Supplier<MeshState> state, boolean trustAnnouncedAddresses) {
        this.state = state;
        this.trustAnnouncedAddresses = trustAnnouncedAddresses;
    }

    /**
     * Why {@code identity}, connected from {@code peer}, may not register as {@code service} at {@code address};
     * empty when it may.
     *
     * @param peerAddress the connection's remote IP address as the socket reported it; null when unknown (then only a
     *     trusted announcement passes)
     */
    public Optional<String> refusal(SpiffeId identity, String service, String address, String peerAddress) {
        if (!mayServe(identity, service)) {
            return Optional.of("hello.service: " + identity + " may not serve '" + service + "' (its service account is '"
                    + identity.serviceAccount() + "'; a ServiceBinding for " + service + " in " + identity.namespace()
                    + " can allow it)");
        }
        if (trustAnnouncedAddresses) {
            return Optional.empty();
        }
        Optional<InetAddress> announced = literal(address);
        if (announced.isEmpty()) {
            return Optional.of("hello.address: '" + address + "' is a host name, which cannot be checked against the "
                    + "connection (announce an IP address, or set trellis.trust-announced-addresses)");
        }
        InetAddress peer = peerAddress == null ? null : literal(peerAddress).orElse(null);
        if (peer == null || !(announced.get().equals(peer) || announced.get().isLoopbackAddress() && peer.isLoopbackAddress())) {
            return Optional.of("hello.address: '" + address + "' is not the address this connection comes from ("
                    + (peer == null ? "unknown" : peer.getHostAddress()) + ")");
        }
        return Optional.empty();
    }

    private boolean mayServe(SpiffeId identity, String service) {
        if (identity.serviceAccount().equals(service)) {
            return true;
        }
        for (Resource binding : state.get().resources(Kind.SERVICE_BINDING, identity.namespace())) {
            ServiceBindingSpec spec = binding.spec(ServiceBindingSpec.class);
            if (spec.service().equals(service) && spec.binds(identity.serviceAccount())) {
                return true;
            }
        }
        return false;
    }

    /** {@code address} as an IP address when it is an IPv4 or IPv6 literal (never a DNS lookup). */
    private static Optional<InetAddress> literal(String address) {
        if (!IPV4.matcher(address).matches() && !address.contains(":")) {
            return Optional.empty();
        }
        try {
            return Optional.of(InetAddress.getByName(address));
        } catch (java.net.UnknownHostException e) {
            return Optional.empty();
        }
    }
}
