#!/usr/bin/python3
"""A strict h2c app for the conformance tests and the transport experiment (python3-h2, not our code).

Like Go's and grpc-js's servers it resets a stream whose request lacks a non-empty :scheme or :authority
(RST_STREAM PROTOCOL_ERROR). Paths:
  /          200 "ok"
  /slow      200 after 1 s
  /reset     the app resets the stream itself (RST_STREAM CANCEL), as a gRPC server cancelling an expired call
  /trailers-response  200 with content-length: 3, "ok\n", then the trailer x-checksum: abc123
  /framing*  200 once the request ended, printing how it arrived:
             "framing PATH length=<content-length or -> bytes=<N> trailers=<name:value,...>"
It prints one line per event to stdout: "ok PATH", "refused PATH why", "reset PATH", "cancelled PATH".
Usage: strict_h2_app.py PORT
"""
import asyncio
import sys

import h2.config
import h2.connection
import h2.events


class Conn(asyncio.Protocol):
    def __init__(self):
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.transport = None
        self.paths = {}
        self.framing = {}

    def connection_made(self, transport):
        self.transport = transport
        self.h2.initiate_connection()
        self.flush()

    def flush(self):
        data = self.h2.data_to_send()
        if data and not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data):
        try:
            events = self.h2.receive_data(data)
        except Exception as e:  # a protocol error from the peer ends the connection, as any server would
            print("connection-error", type(e).__name__, flush=True)
            self.flush()
            self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                self.request(event.stream_id, dict(event.headers))
            elif isinstance(event, h2.events.StreamReset):
                print("cancelled", self.paths.get(event.stream_id, "?"), flush=True)
            elif isinstance(event, h2.events.DataReceived):
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                if event.stream_id in self.framing:
                    self.framing[event.stream_id]["bytes"] += len(event.data)
            elif isinstance(event, h2.events.TrailersReceived) and event.stream_id in self.framing:
                self.framing[event.stream_id]["trailers"] = ",".join("%s:%s" % h for h in event.headers)
            elif isinstance(event, h2.events.StreamEnded) and event.stream_id in self.framing:
                seen = self.framing.pop(event.stream_id)
                print("framing %s length=%s bytes=%d trailers=%s" % (self.paths[event.stream_id], seen["length"],
                                                                   seen["bytes"], seen["trailers"]), flush=True)
                self.answer(event.stream_id, self.paths[event.stream_id])
        self.flush()

    def request(self, stream_id, headers):
        path = headers.get(":path", "")
        self.paths[stream_id] = path
        for pseudo in (":scheme", ":authority"):
            if not headers.get(pseudo):
                print("refused", path, "missing " + pseudo, flush=True)
                self.h2.reset_stream(stream_id, error_code=1)  # PROTOCOL_ERROR
                return
        if path.startswith("/framing"):
            self.framing[stream_id] = {"length": headers.get("content-length", "-"), "bytes": 0, "trailers": ""}
        elif path == "/trailers-response":
            self.h2.send_headers(stream_id, [(":status", "200"), ("content-length", "3")])
            self.h2.send_data(stream_id, b"ok\n")
            self.h2.send_headers(stream_id, [("x-checksum", "abc123")], end_stream=True)
            print("ok", path, flush=True)
        elif path == "/reset":
            print("reset", path, flush=True)
            self.h2.reset_stream(stream_id, error_code=8)  # CANCEL
        elif path == "/slow":
            asyncio.get_event_loop().call_later(1.0, self.answer, stream_id, path)
        else:
            self.answer(stream_id, path)

    def answer(self, stream_id, path):
        try:
            self.h2.send_headers(stream_id, [(":status", "200"), ("content-length", "3")])
            self.h2.send_data(stream_id, b"ok\n", end_stream=True)
            print("ok", path, flush=True)
        except Exception:  # the stream was reset meanwhile
            pass
        self.flush()


async def main(port):
    server = await asyncio.get_event_loop().create_server(Conn, "127.0.0.1", port)
    print("ready", port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
