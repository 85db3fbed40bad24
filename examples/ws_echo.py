"""WebSocket echo server with a small HTML page to try it from a browser.

GET / returns the page; GET /ws is upgraded with ws_upgrade() and every
message is sent back with ws_send(), text as text and binary as binary
(WsMessage.flags is the raw first frame byte: the opcode is flags & 0x0F).
Pings are answered by the engine itself.

The page offers two subprotocols, "chat" and "superchat"; the server picks
the first one it speaks from its own preference list and names it in
extra_headers (the 101 response carries exactly that one, RFC 6455 §4.2.2).

    python examples/ws_echo.py --port 8000     # then open http://localhost:8000/
"""

import argparse

from pymongoose import MG_EV_HTTP_MSG, MG_EV_WS_MSG, Manager

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>WebSocket echo</title></head><body>
<h1>WebSocket echo</h1>
<input id="msg" value="hello"> <button id="send">Send</button>
<pre id="log"></pre>
<script>
const log = (t) => { document.getElementById("log").textContent += t + "\\n"; };
const ws = new WebSocket(`ws://${location.host}/ws`, ["chat", "superchat"]);
ws.onopen = () => { log("connected, subprotocol " + ws.protocol); ws.send("hello"); };
ws.onmessage = (e) => log("echo: " + e.data);
ws.onclose = (e) => log("closed " + e.code);
document.getElementById("send").onclick = () => ws.send(document.getElementById("msg").value);
</script>
</body></html>
"""


SUBPROTOCOLS = ("superchat", "chat")  # the server's preference order


def choose_subprotocol(offer):
    """The first of SUBPROTOCOLS the client offered (header value "a, b"), or None."""
    offered = [p.strip() for p in offer.split(",")]
    return next((p for p in SUBPROTOCOLS if p in offered), None)


def handler(conn, ev, data):
    if ev == MG_EV_HTTP_MSG:
        if data.uri == "/ws":
            chosen = choose_subprotocol(data.header("Sec-WebSocket-Protocol", ""))
            extra = {"Sec-WebSocket-Protocol": chosen} if chosen else None
            conn.ws_upgrade(data, extra)  # MG_EV_WS_OPEN arrives before this returns
        elif data.uri == "/":
            conn.reply(200, PAGE, {"Content-Type": "text/html; charset=utf-8"})
        else:
            conn.reply(404, b"Not found\n")
    elif ev == MG_EV_WS_MSG:
        conn.ws_send(data.data, data.flags & 0x0F)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    args = parser.parse_args()
    manager = Manager(handler)
    listener = manager.listen(f"http://{args.host}:{args.port}", http=True)
    print(f"WebSocket echo on ws://{args.host}:{listener.local_addr[1]}/ws "
          f"(page: http://{args.host}:{listener.local_addr[1]}/)", flush=True)
    try:
        while True:
            manager.poll(1000)
    except KeyboardInterrupt:
        pass
    finally:
        manager.close()


if __name__ == "__main__":
    main()
