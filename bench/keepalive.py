"""Keep-alive HTTP server for the wrk benchmark.

Usage: ``python bench/keepalive.py MODULE`` where MODULE is ``pymongoose`` or
``cymongoose``. Listens on http://127.0.0.1:0, prints ``PORT <n>`` on stdout, then
serves ``Hello, World!`` with ``poll(1)`` until SIGTERM or SIGINT. On exit it prints one
JSON object: requests served and the process CPU time spent serving them (from the first
request on), so run.py can report CPU per request beside wrk's throughput.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import signal
import sys
from types import FrameType

BODY = b"Hello, World!"
HEADERS = {"Content-Type": "text/plain"}


def cpu_seconds() -> float:
    """User + system CPU time of this process."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main() -> None:
    """Serve until signalled, then print the JSON summary."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("module", choices=["pymongoose", "cymongoose"])
    args = ap.parse_args()
    mod = importlib.import_module(args.module)
    http_msg = mod.MG_EV_HTTP_MSG
    served = 0
    cpu_start: float | None = None

    def handler(conn: object, ev: int, data: object) -> None:
        nonlocal served, cpu_start
        if ev == http_msg:
            conn.reply(200, BODY, HEADERS)  # type: ignore[attr-defined]
            if cpu_start is None:
                cpu_start = cpu_seconds()
            served += 1

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
    cpu = cpu_seconds() - (cpu_start if cpu_start is not None else cpu_seconds())
    mgr.close()
    print(json.dumps({"impl": args.module, "served": served, "cpu_s": cpu}), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
