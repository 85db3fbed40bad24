"""Graceful shutdown with drain(): the pattern of the drain documentation.

On the first Ctrl+C (or SIGTERM) the server stops accepting work: every
request still arriving gets 503 and its connection is drained (the reply is
flushed, then the connection closes). Once no client connection is left, or
after --grace seconds, the server exits. A second Ctrl+C exits at once.
"""

import argparse
import signal
import time

from pymongoose import MG_EV_ACCEPT, MG_EV_CLOSE, MG_EV_HTTP_MSG, Manager

state = {"shutdown": False, "clients": set()}


def handler(conn, ev, data):
    if ev == MG_EV_ACCEPT:
        state["clients"].add(conn)
    elif ev == MG_EV_CLOSE:
        state["clients"].discard(conn)
    elif ev == MG_EV_HTTP_MSG:
        if state["shutdown"]:
            conn.reply(503, b"Server shutting down")
            conn.drain()  # flush the 503, then close
        else:
            conn.reply(200, b"OK")  # keep-alive: no drain


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--grace", type=float, default=10.0, help="seconds to wait for clients")
    args = parser.parse_args()

    def request_shutdown(signum, frame):
        if state["shutdown"]:
            raise KeyboardInterrupt
        state["shutdown"] = True
        print("shutting down: new requests get 503", flush=True)

    signal.signal(signal.SIGINT, request_shutdown)
    signal.signal(signal.SIGTERM, request_shutdown)
    manager = Manager(handler)
    listener = manager.listen(f"http://{args.host}:{args.port}", http=True)
    print(f"serving on http://{args.host}:{listener.local_addr[1]}/", flush=True)
    try:
        while not state["shutdown"]:
            manager.poll(100)
        listener.close()  # no new connections; the port is free at once
        deadline = time.monotonic() + args.grace
        while state["clients"] and time.monotonic() < deadline:
            manager.poll(50)
    except KeyboardInterrupt:
        pass
    finally:
        manager.close()
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
