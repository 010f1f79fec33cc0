#!/usr/bin/python3
"""A WebSocket peer on Debian's python3-websockets (not our code), for the conformance tests.

server PORT: an echo server on 127.0.0.1:PORT. It answers each text message with "echo:" + the message, logs one
  JSON line per connection when it ends ({"path": ..., "messages": N, "close_code": ...}), and prints "ready".
client URL MESSAGE...: connects to URL (ws://), sends each message (@size:N stands for N times "x"), waits for each
  echo, closes normally, and prints one JSON line: {"ok": true, "replies": [...]} or {"ok": false, "error": ...};
  a reply longer than 64 characters is reported as its first 5 and its length: "echo:...(N chars)".
"""
import asyncio
import json
import sys

import websockets


async def serve(port):
    async def echo(connection, path):
        count = 0
        try:
            async for message in connection:
                count += 1
                await connection.send("echo:" + message)
        finally:
            print(json.dumps({"path": path, "messages": count, "close_code": connection.close_code}), flush=True)

    async with websockets.serve(echo, "127.0.0.1", port, max_size=1 << 22):
        print("ready", flush=True)
        await asyncio.Future()


async def client(url, messages):
    try:
        async with websockets.connect(url, open_timeout=10, close_timeout=5, max_size=1 << 22) as connection:
            replies = []
            for message in messages:
                if message.startswith("@size:"):
                    message = "x" * int(message[len("@size:"):])
                await connection.send(message)
                reply = await asyncio.wait_for(connection.recv(), 10)
                replies.append(reply if len(reply) <= 64 else reply[:5] + "...(%d chars)" % len(reply))
        print(json.dumps({"ok": True, "replies": replies}), flush=True)
    except Exception as error:  # the outcome is the report
        print(json.dumps({"ok": False, "error": type(error).__name__ + ": " + str(error)}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        asyncio.run(serve(int(sys.argv[2])))
    else:
        asyncio.run(client(sys.argv[2], sys.argv[3:]))
