"""JSON-RPC dispatcher: Rpc and RpcReq (docs/api.md 19.7), as Mongoose's mg_rpc.

Frames are read with the engine's json_get (raw tokens, no full parse), the
method is looked up with match() (glob patterns), and answers are written in
Mongoose's format, without a ``jsonrpc`` member::

    {"id":<id token copied verbatim>,"result":<result text>}
    {"id":<id>,"error":{"code":<int>,"message":<JSON string>}}

(the ``"id":...,`` part is left out when the request has no id, and a
successful notification produces ``""``).
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple, Union

from . import _mongoose as _native

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _json_str(text: str) -> str:
    """``text`` as a JSON string: Mongoose's escapes (quote, backslash,
    \\b \\f \\n \\r \\t), other control characters as \\u00XX, everything else
    (including non-ASCII) as is."""
    out = []
    for ch in text:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


class RpcReq:
    """One request being handled by an :class:`Rpc` handler. It answers
    with :meth:`ok` or :meth:`err`, once, before the handler returns."""

    __slots__ = ("_frame", "_id", "_valid", "_responded", "_out")

    def __init__(self) -> None:
        self._frame = ""
        self._id: Optional[str] = None
        self._valid = False
        self._responded = False
        self._out = ""

    @classmethod
    def _new(cls, frame: str, id_token: Optional[str]) -> "RpcReq":
        req = cls()
        req._frame = frame
        req._id = id_token
        req._valid = True
        return req

    @property
    def frame(self) -> str:
        """The request text; ``""`` once the handler has returned."""
        return self._frame if self._valid else ""

    def _claim(self) -> None:
        if not self._valid:
            raise RuntimeError("RpcReq is no longer valid")
        if self._responded:
            raise RuntimeError("Response already sent")
        self._responded = True

    def _error(self, code: int, message_json: str) -> None:
        head = "" if self._id is None else f'"id":{self._id},'
        self._out = f'{{{head}"error":{{"code":{code},"message":{message_json}}}}}'

    def ok(self, result_json: str) -> None:
        """Respond with ``result_json``, inserted verbatim as the result (it
        must already be JSON text, e.g. ``"42"`` or ``'"hi"'``)."""
        if not isinstance(result_json, str):
            raise TypeError(f"Argument 'result_json' has incorrect type (expected str, got {type(result_json).__name__})")
        self._claim()
        if self._id is not None:
            self._out = f'{{"id":{self._id},"result":{result_json}}}'

    def err(self, code: int, message: str) -> None:
        """Respond with an error; ``message`` is JSON-encoded."""
        if not isinstance(code, int):
            raise TypeError(f"Argument 'code' has incorrect type (expected int, got {type(code).__name__})")
        if not isinstance(message, str):
            raise TypeError(f"Argument 'message' has incorrect type (expected str, got {type(message).__name__})")
        self._claim()
        self._error(int(code), _json_str(message))

    def __repr__(self) -> str:
        return f"<RpcReq frame={self.frame!r}>"


class Rpc:
    """JSON-RPC dispatcher: ``add()`` handlers, then ``process()`` frames."""

    __slots__ = ("_handlers",)

    def __init__(self) -> None:
        self._handlers: List[Tuple[str, Callable[[RpcReq], Any]]] = []

    def add(self, method: str, handler: Callable[[RpcReq], Any]) -> None:
        """Register ``handler(req)`` for ``method``, a name or a glob pattern
        (as :func:`match`); later registrations are consulted first. The name
        ``""`` receives incoming responses (frames with ``result`` or
        ``error`` and no ``method``)."""
        if not isinstance(method, str):
            raise TypeError(f"Argument 'method' has incorrect type (expected str, got {type(method).__name__})")
        if not callable(handler):
            raise TypeError("handler must be callable")
        self._handlers.insert(0, (method, handler))

    @property
    def methods(self) -> List[str]:
        """Registered patterns, most recent first, without ``""``."""
        return [m for m, _ in self._handlers if m != ""]

    def process(self, frame: Union[str, bytes, bytearray, memoryview]) -> str:
        """Handle one JSON-RPC frame and return the response text (``""``
        for a notification that succeeded)."""
        if isinstance(frame, str):
            text = frame
        else:
            text = bytes(frame).decode("utf-8", "surrogateescape")
        req = RpcReq._new(text, _native.json_get(text, "$.id"))
        try:
            method = _native.json_get(text, "$.method")
            if method is not None and method.startswith('"'):
                self._call(req, method[1:-1])
            elif _native.json_get(text, "$.result") is not None or _native.json_get(text, "$.error") is not None:
                self._call(req, "")
            else:
                req._error(-32700, _json_str(text))
        finally:
            req._valid = False
        return req._out

    def _call(self, req: RpcReq, method: str) -> None:
        for pattern, handler in list(self._handlers):
            if _native.match(method, pattern)[0]:
                break
        else:
            # The method text is inserted as written in the frame (still
            # JSON-escaped), as Mongoose does.
            req._error(-32601, f'"{method} not found"')
            return
        try:
            handler(req)
        except Exception as exc:  # noqa: BLE001 - reported to the peer
            if not req._responded:
                req._responded = True
                req._error(-32603, _json_str(str(exc)))
            return
        if not req._responded:
            req._responded = True
            req._error(-32603, '"handler produced no response"')

    def __repr__(self) -> str:
        return f"<Rpc methods={self.methods!r}>"
