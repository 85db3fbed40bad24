"""Request bodies that stream to the server adapters (pymongoose.asgi,
pymongoose.wsgi with workers).

An adapter's Manager asks the engine (core/http_body_stream.go) to stream a
request whose body is chunked or has a Content-Length of at least
``THRESHOLD``: the handler then gets ``EV_BODY_HEAD`` (the request, its
body empty) as soon as the head is parsed, ``EV_BODY_PIECE`` (bytes) as the
body arrives, and ``EV_BODY_END`` (0: complete; else an HTTP-like status
saying why it stopped, see ``FAILURES``). The engine stops reading the
socket while ``WINDOW`` bytes or more were delivered and not reported
consumed (``consumed``), so a slow application holds at most about that
much. The numbers are negative: no MG_EV_* event or MG_EV_USER + n has
them, and only such a Manager sees them.
"""

from __future__ import annotations

from typing import Any

from ._gopy import pybind as _go

EV_BODY_HEAD = -11
EV_BODY_PIECE = -12
EV_BODY_END = -13

THRESHOLD = 256 * 1024
WINDOW = 1024 * 1024
CLIENT_GONE = 499  # EV_BODY_END status: the client closed before the end

# EV_BODY_END statuses other than 0. After one of them the engine has
# answered the client (or closes the connection): the adapter sends nothing
# more for that request.
FAILURES = {
    400: "malformed chunked request body",
    408: "request body stalled",
    413: "request body larger than max_body_size",
    499: "the client closed the connection before the end of the request body",
}


class BodyIncomplete(OSError):
    """Reading a streamed request body that ended before it was complete
    (the client went away, or the body broke a limit)."""


def failure(status: int) -> BodyIncomplete:
    """The error an application gets for an ``EV_BODY_END`` status."""
    return BodyIncomplete(FAILURES.get(status, f"request body failed ({status})"))


def enable(manager: Any) -> None:
    """Stream large request bodies on ``manager`` (a pymongoose Manager)."""
    _go.AdapterStreamBodies(manager._mid, THRESHOLD, WINDOW)


def consumed(manager: Any, conn_id: int, n: int) -> None:
    """Report ``n`` bytes of the body streaming on connection ``conn_id``
    as consumed by the application (0: it asks for the body, which sends a
    pending ``100 Continue``). Poll thread only."""
    try:
        _go.AdapterBodyConsumed(manager._mid, conn_id, n)
    except RuntimeError:  # the Manager is closed: nothing to resume
        pass


def unconsumed(manager: Any, conn_id: int) -> int:
    """Bytes of the body streaming on ``conn_id`` that the engine delivered
    and that were not reported consumed yet (what the adapter holds)."""
    return int(_go.AdapterBodyUnconsumed(manager._mid, conn_id))
