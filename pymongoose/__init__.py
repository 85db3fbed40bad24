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
import sys as _sys
from importlib.machinery import EXTENSION_SUFFIXES as _EXTENSION_SUFFIXES


def _is_built(directory: str) -> bool:
    """True if directory holds the compiled extension for this interpreter
    and gopy's generated wrappers (what `pip install .` produces)."""
    return _os.path.isfile(_os.path.join(directory, "_gopy", "pybind.py")) and any(
        _os.path.isfile(_os.path.join(directory, "_mongoose" + suffix)) for suffix in _EXTENSION_SUFFIXES
    )


def _installed_copy(here: str) -> "str | None":
    """The first other `pymongoose` directory on sys.path that is built, else None."""
    for entry in _sys.path:
        candidate = _os.path.realpath(_os.path.join(entry or _os.getcwd(), "pymongoose"))
        if candidate != here and _is_built(candidate):
            return candidate
    return None


# Run from the repository root (`pip install . && python -m pymongoose`),
# `import pymongoose` finds the source folder first, which has no compiled
# extension. Every submodule (`_mongoose`, `_gopy`, `__main__`, ...) then
# comes from the installed copy, as if it had been imported directly.
_here = _os.path.dirname(_os.path.realpath(__file__))
if not _is_built(_here):
    _installed = _installed_copy(_here)
    if _installed is None:
        raise ImportError(
            f"pymongoose is not built: {_here} has no compiled extension and no installed copy was "
            "found on sys.path. Install it with `pip install .` (needs Go 1.26+, gcc) from the "
            "repository root."
        )
    __path__[:] = [_installed]  # noqa: F821  (a package's __path__)

from . import _mongoose  # noqa: E402
from ._gopy import pybind as _gobind  # noqa: E402,F401  (gopy's generated wrapper)

# gopy hooks a full Go GC onto every Python GC pass; our engine keeps no
# objects alive through gopy handles, so the hook is pure cost.
_gc.callbacks[:] = [cb for cb in _gc.callbacks if getattr(cb, "__name__", "") != "_gopy_gc_cb"]

# The Go runtime does not survive fork() without exec: refuse use in such a
# child with a clear error instead of hanging.
_os.register_at_fork(after_in_child=_mongoose._mark_forked)

from ._manager import Manager  # noqa: E402
from ._tls import TlsOpts  # noqa: E402
from ._rpc import Rpc, RpcReq  # noqa: E402

for _cls in (Manager, TlsOpts, Rpc, RpcReq):
    _cls.__module__ = "pymongoose._mongoose"
    setattr(_mongoose, _cls.__name__, _cls)

_NAMES = [
    "Manager",
    "Connection",
    "HttpMessage",
    "WsMessage",
    "MqttMessage",
    "TlsOpts",
    "Timer",
    *(n for n in dir(_mongoose) if n.startswith("MG_EV_")),
    "WEBSOCKET_OP_TEXT",
    "WEBSOCKET_OP_BINARY",
    "WEBSOCKET_OP_PING",
    "WEBSOCKET_OP_PONG",
    "json_get",
    "json_get_num",
    "json_get_bool",
    "json_get_long",
    "json_get_str",
    "url_encode",
    "http_parse_multipart",
    # cymongoose 0.2 additions (docs/api.md 19.6-19.8)
    "Rpc",
    "RpcReq",
    "event_name",
    "log_set",
    "log_get",
    "url_port",
    "url_host",
    "url_user",
    "url_pass",
    "url_uri",
    "url_is_ssl",
    "match",
    "http_var",
    "md5",
    "sha1",
    "sha256",
    "hmac_sha256",
    "base64_encode",
    "base64_decode",
    "millis",
    "random_bytes",
    "random_str",
    "crc32",
    *(n for n in dir(_mongoose) if n.startswith(("MG_LL_", "MQTT_PROP_TYPE_"))),
]
_mongoose.__all__ = [n for n in _NAMES if hasattr(_mongoose, n)]

from ._mongoose import *  # noqa: E402,F401,F403


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("pymongoose")
    except Exception:  # running from a source tree without metadata
        return "0.0.0"


__version__ = _version()

from .aio import AsyncManager  # noqa: E402

# What `from pymongoose import *` (and tools that read __all__) see: the API
# of pymongoose._mongoose and the asyncio Manager.
__all__ = [*_mongoose.__all__, "AsyncManager"]
