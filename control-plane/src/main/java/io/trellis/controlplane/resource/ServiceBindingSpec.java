package io.trellis.controlplane.resource;

import java.util.List;

/**
 * Which identities may register as instances of a service. By default a sidecar may register only as the service
 * its service account is named like ({@code spiffe://td/ns/shop/sa/inventory} serves {@code inventory} in
 * {@code shop}); a ServiceBinding in the service's namespace adds the service accounts listed here (a canary's
 * {@code inventory-v2}, a legacy account). Without this, any mesh identity could announce itself as any service
 * and receive its traffic.
 */
public record ServiceBindingSpec(String service, List<String> serviceAccounts) implements Spec {
    @Override
    public ServiceBindingSpec withDefaults() {
        return new ServiceBindingSpec(service, serviceAccounts == null ? null : List.copyOf(serviceAccounts));
    }

    @Override
    public void validate(Validation v) {
        v.dnsLabel(service, "spec.service");
        if (v.required(serviceAccounts, "spec.serviceAccounts", "at least one service account name")) {
            v.check(!serviceAccounts.isEmpty(), "spec.serviceAccounts", serviceAccounts, "at least one service account name");
            for (int i = 0; i < serviceAccounts.size(); i++) {
                v.dnsLabel(serviceAccounts.get(i), "spec.serviceAccounts[" + i + "]");
            }
        }
    }

    /** True when this binding lets {@code serviceAccount} serve its service. */
    public boolean binds(String serviceAccount) {
        return serviceAccounts.contains(serviceAccount);
    }
}
