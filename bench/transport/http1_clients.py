#!/usr/bin/python3
"""HTTP/1.1 callers for the transport experiment (Python's sockets and http.client), aimed at a client-side listener.

  aborts HOST PORT N      N requests to /slow, each abandoned by its caller after 100 ms (100 at a time), then one
                          GET / that must still be answered (the abort-leak case: every abandoned request must free
                          its stream)
  neighbours HOST PORT    5 concurrent GET /slow, then GET /reset (the app resets that stream), then GET / (a strict
                          app refuses a request without :scheme/:authority): one reset must not fail its neighbours
Prints one line with the outcome. Bounded in count and time.
"""
import http.client
import socket
import sys
import threading
import time


def status(host, port, path, timeout=10):
    try:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.request("GET", path, headers={"Host": "backend"})
        response = conn.getresponse()
        response.read()
        conn.close()
        return str(response.status)
    except Exception as e:
        return type(e).__name__


def aborts(host, port, count):
    start = time.monotonic()
    for batch in range(0, count, 100):
        socks = []
        for _ in range(min(100, count - batch)):
            s = socket.create_connection((host, port), timeout=5)
            s.sendall(b"GET /slow HTTP/1.1\r\nHost: backend\r\n\r\n")
            socks.append(s)
        time.sleep(0.1)
        for s in socks:
            s.close()
    took = time.monotonic() - start
    t0 = time.monotonic()
    after = status(host, port, "/", timeout=20)
    print("aborts: %d requests abandoned in %.1f s; then GET / -> %s in %d ms"
          % (count, took, after, (time.monotonic() - t0) * 1000))


def neighbours(host, port):
    results = [None] * 5
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, status(host, port, "/slow"))) for i in range(5)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    reset = status(host, port, "/reset")
    for t in threads:
        t.join(15)
    plain = status(host, port, "/")
    print("neighbours: 5 slow calls -> %s; the reset call -> %s; then GET / -> %s" % (" ".join(results), reset, plain))


if __name__ == "__main__":
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "aborts":
        aborts(host, port, int(sys.argv[4]))
    else:
        neighbours(host, port)
