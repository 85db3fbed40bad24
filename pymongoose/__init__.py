"""pymongoose: event-driven HTTP/WebSocket/MQTT/TCP/UDP networking.

A drop-in replacement for the pymongoose package whose engine is written in
Go. Typical use::

    from pymongoose import Manager, MG_EV_HTTP_MSG

    def handler(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            conn.reply(200, b"Hello")
            conn.drain()

    manager = Manager(handler)
    manager.listen("http://127.0.0.1:8000", http=True)
    while True:
        manager.poll(100)
"""

import gc as _gc
import os as _os

from . import _mongoose
from ._gopy import pybind as _gobind  # noqa: F401  (gopy's generated wrapper)

# gopy hooks a full Go GC onto every Python GC pass; our engine keeps no
# objects alive through gopy handles, so the hook is pure cost.
_gc.callbacks[:] = [cb for cb in _gc.callbacks if getattr(cb, "__name__", "") != "_gopy_gc_cb"]

# The Go runtime does not survive fork() without exec: refuse use in such a
# child with a clear error instead of hanging.
_os.register_at_fork(after_in_child=_mongoose._mark_forked)

from ._manager import Manager  # noqa: E402

Manager.__module__ = "pymongoose._mongoose"
_mongoose.Manager = Manager

_mongoose.__all__ = [
    "Manager",
    "Connection",
    "HttpMessage",
    "WsMessage",
    "MqttMessage",
    "Timer",
    *(n for n in dir(_mongoose) if n.startswith("MG_EV_")),
    "WEBSOCKET_OP_TEXT",
    "WEBSOCKET_OP_BINARY",
    "WEBSOCKET_OP_PING",
    "WEBSOCKET_OP_PONG",
]

from ._mongoose import *  # noqa: E402,F401,F403


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("pymongoose")
    except Exception:  # running from a source tree without metadata
        return "0.0.0"


__version__ = _version()
