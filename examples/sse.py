"""Server-Sent Events: a timer pushes an event to every open /events stream.

GET /events answers with a chunked text/event-stream response that never
ends; the connection is remembered until it closes. A repeating timer
sends each of them `event: tick` with a small JSON payload (http_sse).
GET / is a page whose EventSource shows the ticks.

    python examples/sse.py --port 8000 --interval 1000
    curl -N localhost:8000/events
"""

import argparse
import json
import time

from pymongoose import MG_EV_CLOSE, MG_EV_HTTP_MSG, Manager

HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n")
PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>SSE</title></head><body>
<h1>Server-Sent Events</h1><pre id="log"></pre>
<script>
const log = document.getElementById("log");
new EventSource("/events").addEventListener("tick", (e) => { log.textContent += e.data + "\\n"; });
</script>
</body></html>
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--interval", type=int, default=1000, help="ms between events")
    args = parser.parse_args()
    streams = set()  # connections with an open /events response
    ticks = {"n": 0}

    def handler(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            if data.uri == "/events":
                conn.send(HEAD)
                streams.add(conn)
            elif data.uri == "/":
                conn.reply(200, PAGE, {"Content-Type": "text/html; charset=utf-8"})
            else:
                conn.reply(404, b"Not found\n")
        elif ev == MG_EV_CLOSE:
            streams.discard(conn)

    def tick():
        ticks["n"] += 1
        payload = json.dumps({"n": ticks["n"], "time": time.strftime("%H:%M:%S"), "clients": len(streams)})
        for conn in list(streams):
            conn.http_sse("tick", payload)

    manager = Manager(handler)
    listener = manager.listen(f"http://{args.host}:{args.port}", http=True)
    manager.timer_add(args.interval, tick, repeat=True)
    print(f"SSE on http://{args.host}:{listener.local_addr[1]}/events", flush=True)
    try:
        while True:
            manager.poll(1000)
    except KeyboardInterrupt:
        pass
    finally:
        manager.close()


if __name__ == "__main__":
    main()
