"""HTTP server driven by wrk in run.py.

Usage: ``python bench/server.py MODULE --mode keepalive|close|big`` where MODULE is
``pymongoose`` or ``cymongoose``. Listens on http://127.0.0.1:0, prints ``PORT <n>`` on
stdout, then serves with ``poll(1)`` until SIGTERM or SIGINT.

* ``keepalive``: ``{"message":"Hello, World!"}`` (27 bytes) with a Content-Type header;
  the connection stays open.
* ``close``: the same reply with ``Connection: close``, then ``drain()`` (one connection per
  request when wrk sends ``Connection: close``).
* ``big``: a 1 MiB body with ``Connection: close``, then ``drain()``.

run.py reads the server's CPU time from /proc/<pid>/stat around the measured wrk run.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from types import FrameType

SMALL = b'{"message":"Hello, World!"}'
assert len(SMALL) == 27
# 1 MiB without NUL bytes: cymongoose passes the body through a C string and would
# answer Content-Length: 0 for a body that starts with b"\0".
BIG = bytes(range(32, 96)) * (1 << 14)
assert len(BIG) == 1 << 20
JSON = {"Content-Type": "application/json"}
JSON_CLOSE = {"Content-Type": "application/json", "Connection": "close"}
BIN_CLOSE = {"Content-Type": "application/octet-stream", "Connection": "close"}


def main() -> None:
    """Serve until signalled."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("module", choices=["pymongoose", "cymongoose"])
    ap.add_argument("--mode", choices=["keepalive", "close", "big"], default="keepalive")
    args = ap.parse_args()
    mod = importlib.import_module(args.module)
    http_msg = mod.MG_EV_HTTP_MSG

    if args.mode == "keepalive":
        def handler(conn: object, ev: int, data: object) -> None:
            if ev == http_msg:
                conn.reply(200, SMALL, JSON)  # type: ignore[attr-defined]
    else:
        body, headers = (SMALL, JSON_CLOSE) if args.mode == "close" else (BIG, BIN_CLOSE)

        def handler(conn: object, ev: int, data: object) -> None:
            if ev == http_msg:
                conn.reply(200, body, headers)  # type: ignore[attr-defined]
                conn.drain()  # type: ignore[attr-defined]

    stop = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    # Installed after the import, so Python's handlers win over any the engine set.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    mgr = mod.Manager(handler)
    listener = mgr.listen("http://127.0.0.1:0", http=True)
    print(f"PORT {listener.local_addr[1]}", flush=True)
    while not stop:
        mgr.poll(1)
    mgr.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
