#!/usr/bin/python3
"""A request body that stalls (python3-h2): what a server answers a stream whose caller stopped sending, and whether
the connection's other streams are still served.

  h2_stalled_body.py HOST PORT DIR AUTHORITY PATH WAIT

DIR as h2_malformed.py takes it (mTLS files, or "h2c"). POSTs PATH declaring 1,000,000 bytes, sends 30,000 of them and
stops; waits at most WAIT seconds for the server's verdict, then sends a GET on the same connection. Prints two JSON
lines, {"case": "stalled" | "after", "outcome": ...}, outcomes as h2_malformed.py prints them.
"""
import json
import ssl
import sys

from h2_malformed import connect, outcome


def main():
    host, port, certs, authority, path, wait = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], \
        float(sys.argv[6])
    sock, conn = connect(host, port, certs)
    cases = [
        ("stalled", [(":method", "POST"), (":scheme", "http"), (":authority", authority), (":path", path),
                     ("content-length", "1000000")], b"x" * 30000, wait),
        ("after", [(":method", "GET"), (":scheme", "http"), (":authority", authority), (":path", "/after-the-stall")],
         None, 5),
    ]
    for name, headers, body, limit in cases:
        stream = conn.get_next_available_stream_id()
        try:
            conn.send_headers(stream, headers, end_stream=body is None)
            for start in range(0, len(body or b""), 16384):
                # Within the initial 64 KiB window, in frames of the default size; the stream is never ended.
                conn.send_data(stream, body[start:start + 16384])
            sock.sendall(conn.data_to_send())
            result = outcome(sock, conn, stream, limit)
        except (ConnectionError, ssl.SSLError, OSError):
            result = "closed"
        print(json.dumps({"case": name, "outcome": result}), flush=True)
    sock.close()


if __name__ == "__main__":
    main()
