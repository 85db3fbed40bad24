"""WebSocket broadcast: a timer sends the same message to every client.

Clients connect to /ws; MG_EV_WS_OPEN adds them to a set and MG_EV_CLOSE
removes them. Every --interval ms a repeating timer sends one JSON text
message, {"tick": n, "clients": k}, to all of them with ws_send(). Text a
client sends is broadcast to everyone too. GET / is a page that shows it.

    python examples/ws_broadcast.py --port 8000    # open http://localhost:8000/ twice
"""

import argparse
import json

from pymongoose import MG_EV_CLOSE, MG_EV_HTTP_MSG, MG_EV_WS_MSG, MG_EV_WS_OPEN, Manager

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>WebSocket broadcast</title></head><body>
<h1>WebSocket broadcast</h1>
<input id="msg" value="hello everyone"> <button id="send">Say</button>
<pre id="log"></pre>
<script>
const log = document.getElementById("log");
const ws = new WebSocket(`ws://${location.host}/ws`);
ws.onmessage = (e) => { log.textContent = e.data + "\\n" + log.textContent; };
document.getElementById("send").onclick = () => ws.send(document.getElementById("msg").value);
</script>
</body></html>
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--interval", type=int, default=1000, help="ms between broadcasts")
    args = parser.parse_args()
    clients = set()
    ticks = {"n": 0}

    def broadcast(message):
        for conn in list(clients):
            conn.ws_send(message)

    def handler(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            if data.uri == "/ws":
                conn.ws_upgrade(data)
            elif data.uri == "/":
                conn.reply(200, PAGE, {"Content-Type": "text/html; charset=utf-8"})
            else:
                conn.reply(404, b"Not found\n")
        elif ev == MG_EV_WS_OPEN:
            clients.add(conn)
        elif ev == MG_EV_WS_MSG:
            broadcast(json.dumps({"from": conn.id, "text": data.text}))
        elif ev == MG_EV_CLOSE:
            clients.discard(conn)

    def tick():
        ticks["n"] += 1
        broadcast(json.dumps({"tick": ticks["n"], "clients": len(clients)}))

    manager = Manager(handler)
    listener = manager.listen(f"http://{args.host}:{args.port}", http=True)
    manager.timer_add(args.interval, tick, repeat=True)
    print(f"WebSocket broadcast on ws://{args.host}:{listener.local_addr[1]}/ws", flush=True)
    try:
        while True:
            manager.poll(1000)
    except KeyboardInterrupt:
        pass
    finally:
        manager.close()


if __name__ == "__main__":
    main()
