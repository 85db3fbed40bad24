"""Start this project's ASGI or WSGI server on an app, for bench/servers.py.

Usage: ``python bench/serve_ours.py asgi|wsgi MODULE:ATTR PORT [--loop L] [--threads N]``

Serves on http://127.0.0.1:PORT until SIGINT/SIGTERM through ``pymongoose.asgi.serve`` or
``pymongoose.wsgi.serve``. A stand-in until ``python -m pymongoose.asgi|wsgi`` exists: the
command line lives in the SERVERS table of bench/servers.py, the one place to change.
The current directory is appended to ``sys.path`` (after site-packages, so that run from
the source tree the installed ``pymongoose`` still wins over the uncompiled source).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from typing import Any


def load(target: str) -> Any:
    """Import ``module:attr`` (dots allowed in attr)."""
    module, _, attr = target.partition(":")
    if not attr:
        raise SystemExit(f"app must be MODULE:ATTR, got {target!r}")
    obj: Any = importlib.import_module(module)
    for name in attr.split("."):
        obj = getattr(obj, name)
    return obj


def use_loop(name: str) -> None:
    """Make asyncio.run() use ``name`` (auto: uvloop when importable, as uvicorn does)."""
    if name == "asyncio":
        return
    try:
        import uvloop
    except ImportError:
        if name == "uvloop":
            raise
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def main() -> None:
    """Parse the command line and serve."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("interface", choices=["asgi", "wsgi"])
    ap.add_argument("app", help="MODULE:ATTR")
    ap.add_argument("port", type=int)
    ap.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto",
                    help="ASGI: the asyncio event loop (default: uvloop if installed)")
    ap.add_argument("--threads", type=int, default=4,
                    help="WSGI: threads running the app (pymongoose.wsgi.serve's workers)")
    args = ap.parse_args()
    sys.path.append(os.getcwd())
    app = load(args.app)
    url = f"http://127.0.0.1:{args.port}"
    if args.interface == "asgi":
        from pymongoose import asgi

        use_loop(args.loop)
        asgi.serve(app, url)
    else:
        from pymongoose import wsgi

        wsgi.serve(app, url, workers=args.threads)


if __name__ == "__main__":
    main()
