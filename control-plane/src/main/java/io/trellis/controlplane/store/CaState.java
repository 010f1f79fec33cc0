package io.trellis.controlplane.store;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Which CA roots the mesh trusts and which one signs (DESIGN.md §3). During a rotation the new root is
 * {@code pending} (trusted, not yet signing) until every sidecar has acknowledged a bundle holding it;
 * after the switch the old root is {@code retiring} until {@code retireAfter}, when no leaf it signed
 * can still be valid. Root ids name key files under the data directory.
 */
public record CaState(String signing, List<String> trusted, String pending, String retiring, Instant retireAfter) {
    /** Copies the trusted list. */
    public CaState {
        trusted = List.copyOf(trusted);
    }

    /** The state of a CA with one root. */
    public static CaState single(String rootId) {
        return new CaState(rootId, List.of(rootId), null, null, null);
    }

    /** True while a rotation has started and signing has not switched yet. */
    public boolean rotating() {
        return pending != null;
    }

    /** A new root joins the bundle; signing stays. */
    public CaState withPending(String rootId) {
        List<String> next = new ArrayList<>(trusted);
        next.add(rootId);
        return new CaState(signing, next, rootId, retiring, retireAfter);
    }

    /** Signing moves to the pending root; the old one retires after {@code retireAfter}. */
    public CaState switched(Instant retireAfter) {
        return new CaState(pending, trusted, null, signing, retireAfter);
    }

    /** The retiring root leaves the bundle. */
    public CaState retired() {
        List<String> next = new ArrayList<>(trusted);
        next.remove(retiring);
        return new CaState(signing, next, pending, null, null);
    }
}
