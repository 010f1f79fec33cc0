#!/usr/bin/python3
"""An HTTP/1.1 app for the transport experiment (Python's http.server, not our code).

  /       200 "ok"
  /slow   200 after 3 s, unless the client goes away first: the app watches its socket while it waits
Prints "started PATH" for every request and "cancelled /slow AFTER_MS" when the client went away, so the
experiment can count what reached the app and whether (and how fast) a caller's abort arrived.
Usage: slow_http_app.py PORT
"""
import http.server
import select
import sys
import time


def gone(connection):
    """True when the client closed or reset the connection (it sends nothing else while it waits)."""
    try:
        return connection.recv(1, 0x40) == b""  # MSG_DONTWAIT
    except ConnectionError:
        return True
    except BlockingIOError:
        return False


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        print("started", self.path, flush=True)
        if self.path == "/slow":
            start = time.monotonic()
            readable, _, _ = select.select([self.connection], [], [], 3.0)
            if readable and gone(self.connection):
                print("cancelled /slow %d" % ((time.monotonic() - start) * 1000), flush=True)
                self.close_connection = True
                return
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


if __name__ == "__main__":
    server = Server(("127.0.0.1", int(sys.argv[1])), Handler)
    print("ready", sys.argv[1], flush=True)
    server.serve_forever()
