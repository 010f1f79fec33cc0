#!/usr/bin/python3
"""Malformed HTTP/2 requests (python3-h2 with its own checks off), one stream each, then a well-formed one, all on one
connection: what a server does with each, and whether the connection survives them.

  h2_malformed.py HOST PORT DIR AUTHORITY

DIR holds client.pem, client.key and ca.pem for mTLS, or is "h2c" for plaintext HTTP/2 with prior knowledge. Prints
one JSON line per case: {"case": ..., "outcome": "status 200" | "reset N" | "goaway N" | "closed" | "nothing"}
(a status carries the response's trellis-error, if any: "status 408 request-timeout"). Each case waits at most 5 s.
"""
import json
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events


def connect(host, port, certs):
    config = h2.config.H2Configuration(client_side=True, validate_outbound_headers=False,
                                       normalize_outbound_headers=False, validate_inbound_headers=False)
    conn = h2.connection.H2Connection(config=config)
    if certs == "h2c":
        sock = socket.create_connection((host, port), timeout=5)
    else:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        ctx.check_hostname = False
        ctx.load_verify_locations(certs + "/ca.pem")
        ctx.load_cert_chain(certs + "/client.pem", certs + "/client.key")
        ctx.set_alpn_protocols(["h2"])
        sock = ctx.wrap_socket(socket.create_connection((host, port), timeout=5))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def outcome(sock, conn, stream, wait=5):
    """How the server ended stream within wait seconds: its status, a reset, or the connection's end."""
    deadline = time.monotonic() + wait
    status = None
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionError, ssl.SSLError, OSError):
            return "closed"
        if not data:
            return "closed"
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.ConnectionTerminated):
                return "goaway %d" % event.error_code
            if getattr(event, "stream_id", None) != stream:
                continue
            if isinstance(event, h2.events.ResponseReceived):
                headers = dict(event.headers)
                status = headers.get(b":status", b"?").decode()
                if b"trellis-error" in headers:
                    status += " " + headers[b"trellis-error"].decode()
            if isinstance(event, h2.events.StreamReset):
                return "reset %d" % event.error_code
            if isinstance(event, h2.events.DataReceived):
                conn.acknowledge_received_data(event.flow_controlled_length, stream)
            if isinstance(event, h2.events.StreamEnded):
                sock.sendall(conn.data_to_send())
                return "status %s" % status
        sock.sendall(conn.data_to_send())
    return "nothing"


def main():
    host, port, certs, authority = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    base = [(":method", "GET"), (":scheme", "http"), (":authority", authority), (":path", "/orders")]
    post = [(":method", "POST"), (":scheme", "http"), (":authority", authority), (":path", "/orders")]
    cases = [
        ("crlf-in-value", base + [("x-note", "a\r\nx-injected: 1")], None),
        ("nul-in-value", base + [("x-note", "a\x00b")], None),
        ("host-differs-from-authority", base + [("host", "evil.example")], None),
        ("content-length-above-data", post + [("content-length", "10")], b"12345"),
        ("content-length-below-data", post + [("content-length", "2")], b"12345"),
        ("uppercase-name", base + [("X-Upper", "1")], None),
        ("connection-header", base + [("connection", "keep-alive")], None),
        ("missing-path", [h for h in base if h[0] != ":path"], None),
        ("well-formed-after", base, None),
    ]
    sock, conn = connect(host, port, certs)
    for name, headers, body in cases:
        stream = conn.get_next_available_stream_id()
        try:
            conn.send_headers(stream, headers, end_stream=body is None)
            if body is not None:
                conn.send_data(stream, body, end_stream=True)
            sock.sendall(conn.data_to_send())
            result = outcome(sock, conn, stream)
        except (ConnectionError, ssl.SSLError, OSError):
            result = "closed"
        except Exception as e:  # h2 refusing to go on with a connection the server ended
            result = "ended (%s)" % type(e).__name__
        print(json.dumps({"case": name, "outcome": result}), flush=True)
    sock.close()


if __name__ == "__main__":
    main()
