package io.trellis.controlplane.resource;

/** Identifies a stored resource; {@code namespace} is empty for cluster-scoped kinds. */
public record ResourceKey(Kind kind, String namespace, String name) implements Comparable<ResourceKey> {
    @Override
    public int compareTo(ResourceKey o) {
        int byKind = kind.compareTo(o.kind);
        if (byKind != 0) {
            return byKind;
        }
        int byNamespace = namespace.compareTo(o.namespace);
        return byNamespace != 0 ? byNamespace : name.compareTo(o.name);
    }

    @Override
    public String toString() {
        return kind.kindName() + "/" + (namespace.isEmpty() ? "" : namespace + "/") + name;
    }
}
