#!/usr/bin/python3
"""An HTTP/1.1 app on Python's http.server (not our code) that records what arrived, as such servers see it.

Every request is answered after its body was read (by Content-Length, or chunked): 503 for paths under /fail,
503 for every other request under /flaky (the 1st, 3rd...), N bytes with Content-Length: N for /sized/N (HEAD
too, without the bytes), 200 with Cache-Control: no-store,max-age=0 (written as is, unspaced) for /verbatim, 200 and
an empty body otherwise; and printed as one JSON line: {"requestline": "POST /events HTTP/1.1", "path": ..., "host": ...,
"content_length": ..., "transfer_encoding": ..., "upgrade": ..., "accept": ..., "body_bytes": N, "trailers": {...}}. http.server routes on the raw request target, so an absolute-form
target shows as a wrong path. Usage: recording_http_app.py PORT
"""
import http.server
import json
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        self.trailers = {}
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while True:
                        line = self.rfile.readline()
                        if line in (b"\r\n", b"\n", b""):
                            return data
                        name, _, value = line.decode("latin-1").partition(":")
                        self.trailers[name.strip().lower()] = value.strip()
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    flaky_calls = 0

    def answer(self):
        data = self.body()
        if self.path.startswith("/fail"):
            return self.fail(data)
        if self.path.startswith("/flaky"):
            Handler.flaky_calls += 1
            if Handler.flaky_calls % 2 == 1:
                return self.fail(data)
        print(json.dumps({"requestline": self.requestline, "path": self.path, "host": self.headers.get("Host"),
                          "content_length": self.headers.get("Content-Length"),
                          "transfer_encoding": self.headers.get("Transfer-Encoding"),
                          "upgrade": self.headers.get("Upgrade"), "accept": self.headers.get("Accept"),
                          "body_bytes": len(data),
                          "trailers": self.trailers}),
              flush=True)
        size = int(self.path[len("/sized/"):]) if self.path.startswith("/sized/") else 0
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        if self.path == "/verbatim":
            self.send_header("Cache-Control", "no-store,max-age=0")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b"x" * size)

    def fail(self, data):
        print(json.dumps({"requestline": self.requestline, "status": 503, "body_bytes": len(data)}), flush=True)
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = do_HEAD = answer


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print(json.dumps({"ready": int(sys.argv[1])}), flush=True)
    server.serve_forever()
