package io.trellis.sidecar.transport;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.ptr.IntByReference;
import io.netty.channel.Channel;
import io.netty.channel.epoll.EpollSocketChannel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where a connection that a NAT redirect ({@code trellis init-iptables}: nftables' or iptables' {@code REDIRECT})
 * brought to a listener was going: Linux keeps it with the connection's tracking entry, readable with
 * {@code getsockopt(SOL_IP, SO_ORIGINAL_DST)}, which neither the JDK nor Netty exposes, so it is called through JNA on
 * the epoll channel's descriptor. IPv4 only (the redirect is IPv4).
 */
public final class OriginalDestination {
    private static final Logger LOG = LoggerFactory.getLogger(OriginalDestination.class);
    private static final int SOL_IP = 0;
    private static final int SO_ORIGINAL_DST = 80;
    private static final int AF_INET = 2;
    private static final int SOCKADDR_IN_SIZE = 16;

    private interface LibC extends Library {
        int getsockopt(int fd, int level, int option, Memory value, IntByReference length);
    }

    private static final LibC LIBC = load();

    private OriginalDestination() {
    }

    private static LibC load() {
        try {
            return Native.load("c", LibC.class);
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            LOG.warn("the original destination of redirected connections cannot be read ({}): they are routed by Host only", e.toString());
            return null;
        }
    }

    /**
     * The address {@code channel}'s peer connected to before a redirect changed it; empty when the connection was not
     * redirected (its original destination is the listener's own address) or the transport cannot tell.
     */
    public static Optional<InetSocketAddress> of(Channel channel) {
        if (LIBC == null || !(channel instanceof EpollSocketChannel epoll)) {
            return Optional.empty();
        }
        Memory address = new Memory(SOCKADDR_IN_SIZE);
        IntByReference length = new IntByReference(SOCKADDR_IN_SIZE);
        if (LIBC.getsockopt(epoll.fd().intValue(), SOL_IP, SO_ORIGINAL_DST, address, length) != 0) {
            return Optional.empty();    // ENOENT: no NAT entry (a connection made to the listener itself)
        }
        if (address.getShort(0) != AF_INET) {
            return Optional.empty();
        }
        int port = ((address.getByte(2) & 0xff) << 8) | (address.getByte(3) & 0xff);
        InetSocketAddress original;
        try {
            original = new InetSocketAddress(InetAddress.getByAddress(address.getByteArray(4, 4)), port);
        } catch (UnknownHostException impossible) {
            return Optional.empty();
        }
        InetSocketAddress local = (InetSocketAddress) channel.localAddress();
        return original.equals(local) ? Optional.empty() : Optional.of(original);
    }
}
