"""Demo HTTP server: ``python -m pymongoose [--host H] [--port P] [--dir D]``.

Serves an embedded page at ``/``, a JSON status at ``/api/status`` and, with
``--dir``, the files below that directory. The port defaults to the PORT
environment variable, else 8000. Ctrl+C stops it (exit status 0).
The ``pymongoose`` console script runs the same server.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Optional

from . import MG_EV_HTTP_MSG, Manager, __version__

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>pymongoose-go</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>pymongoose-go is running</h1>
<p>This page is served by the pymongoose API on an event loop written in Go.</p>
<ul>
<li><a href="/api/status">/api/status</a>: JSON status of this server</li>
<li>/files/...: files of the <code>--dir</code> directory, when given</li>
</ul>
</body></html>
"""


class Demo:
    """The demo's request handler and its small state."""

    def __init__(self, root: Optional[str]) -> None:
        self.root = os.path.realpath(root) if root else None
        self.started = time.time()
        self.requests = 0

    def __call__(self, conn: Any, ev: int, data: Any) -> None:
        if ev != MG_EV_HTTP_MSG:
            return
        self.requests += 1
        uri = data.uri
        if uri == "/":
            conn.reply(200, PAGE, {"Content-Type": "text/html; charset=utf-8"})
        elif uri == "/api/status":
            status = {"server": "pymongoose-go", "version": __version__, "requests": self.requests,
                      "uptime_s": round(time.time() - self.started, 3)}
            conn.reply(200, json.dumps(status), {"Content-Type": "application/json"})
        elif uri.startswith("/files/") and self.root is not None:
            # static files: MIME types, ETag/304, Range, listings, traversal refused
            conn.serve_dir(data, f"/files/={self.root}")
        else:
            conn.reply(404, b"Not found\n", {"Content-Type": "text/plain"})


def _default_port() -> int:
    """$PORT (the usual way to hand a server its port), else 8000."""
    value = os.environ.get("PORT", "")
    if not value:
        return 8000
    try:
        return int(value)
    except ValueError:
        sys.exit(f"error: PORT={value!r} is not a port number")


def main(argv: Optional[list[str]] = None) -> int:
    """Run the demo server until Ctrl+C; returns the exit status."""
    script = os.path.basename(sys.argv[0])
    prog = "python -m pymongoose" if script in ("__main__.py", "-c", "") else script
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=_default_port(),
                        help="port (default: $PORT, else 8000; 0 picks a free one)")
    parser.add_argument("--dir", default=None, help="directory served under /files/")
    args = parser.parse_args(argv)
    if args.dir and not os.path.isdir(args.dir):
        parser.error(f"--dir {args.dir!r} is not a directory")
    manager = Manager(Demo(args.dir))
    host = f"[{args.host}]" if ":" in args.host else args.host
    try:
        listener = manager.listen(f"http://{host}:{args.port}", http=True)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    bound = listener.local_addr
    assert bound is not None  # a listener always has its bound address
    print(f"pymongoose-go {__version__} serving on http://{host}:{bound[1]}/ (Ctrl+C stops)", flush=True)
    try:
        while True:
            manager.poll(1000)
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        manager.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
