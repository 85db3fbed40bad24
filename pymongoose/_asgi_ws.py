"""One WebSocket session of :mod:`pymongoose.asgi` (ASGI WebSocket spec 2.4,
with the ``websocket.http.response`` extension).

The handshake completes only when the application sends
``websocket.accept``: the adapter writes the 101 response itself (with the
app's subprotocol and headers) and then switches the connection to frames.
A close before accept is answered with HTTP 403; a denial response
(``websocket.http.response.start``/``.body``) is sent as an HTTP response.
``websocket.disconnect`` carries the client's close code: 1005 when its
close frame had none, 1006 when the connection dropped without one.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import struct
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional

from . import _mongoose as _native
from ._asgi_http import ERROR_500, ClientDisconnected, header_error, wait_for_room
from ._gopy import pybind as _go
from ._http_adapter import HEADER_BLOCK_RE, status_line

if TYPE_CHECKING:  # pragma: no cover
    from .asgi import ASGIServer, _ConnState

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_FORBIDDEN = status_line(403) + b"content-length: 0\r\nconnection: close\r\n\r\n"
_SWITCHING = (status_line(101) + b"upgrade: websocket\r\nconnection: Upgrade\r\n"
              b"sec-websocket-accept: ")
_OP_CLOSE = 8

# states of a session
_CONNECTING, _DENYING, _OPEN, _CLOSED = range(4)


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 §4.2.2)."""
    digest = hashlib.sha1(key.strip().encode("latin-1") + _GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def close_frame_payload(frame: bytes) -> Optional[bytes]:
    """The payload of the close frame at the start of ``frame`` (a received
    frame, already unmasked in place by the engine), None if it is not one."""
    if len(frame) < 2 or frame[0] & 0x0F != _OP_CLOSE:
        return None
    n = frame[1] & 0x7F
    pos = 2
    if n == 126:
        n = int.from_bytes(frame[2:4], "big")
        pos = 4
    elif n == 127:
        n = int.from_bytes(frame[2:10], "big")
        pos = 10
    if frame[1] & 0x80:
        pos += 4  # masking key
    return frame[pos:pos + n]


class WSCycle:
    """State of one WebSocket session, from the upgrade request to the close."""

    __slots__ = ("server", "state", "conn", "scope", "key", "phase", "inbox", "waiter",
                 "close_code", "close_reason", "deny_status", "deny_headers", "deny_body",
                 "disconnected")

    def __init__(self, server: "ASGIServer", state: "_ConnState", scope: Dict[str, Any],
                 key: str) -> None:
        self.server = server
        self.state = state
        self.conn = state.conn
        self.scope = scope
        self.key = key
        self.phase = _CONNECTING
        self.inbox: Deque[Dict[str, Any]] = collections.deque([{"type": "websocket.connect"}])
        self.waiter: "Optional[asyncio.Future[None]]" = None
        self.close_code = 1006  # until a close frame says otherwise
        self.close_reason = ""
        self.deny_status = 0
        self.deny_headers: Any = ()
        self.deny_body: List[bytes] = []
        self.disconnected = False

    # -- events from the engine (handler, loop thread) ----------------------
    def on_message(self, data: Any) -> None:
        if data.flags & 0x0F == _native.WEBSOCKET_OP_TEXT:
            self._post({"type": "websocket.receive", "text": data.text})
        else:
            self._post({"type": "websocket.receive", "bytes": data.data})

    def on_control(self, conn: Any) -> None:
        payload = close_frame_payload(conn.recv_data(256))
        if payload is None:
            return
        if len(payload) >= 2:
            self.close_code = struct.unpack("!H", payload[:2])[0]
            self.close_reason = payload[2:].decode("utf-8", "replace")
        else:
            self.close_code = 1005

    def on_close(self) -> None:
        if self.disconnected:
            return
        self.disconnected = True
        self._post({"type": "websocket.disconnect", "code": self.close_code,
                    "reason": self.close_reason})

    def on_drain(self) -> None:
        self._wake()

    def shutdown(self) -> None:
        """The server stops: close an open session with 1012 (service restart)."""
        if self.phase == _OPEN and not self.disconnected:
            self._close_frame(1012, "")
        elif self.phase != _OPEN and not self.disconnected:
            self.conn.close()
        self.close_code = 1012

    def _post(self, message: Dict[str, Any]) -> None:
        self.inbox.append(message)
        self._wake()

    def _wake(self) -> None:
        fut = self.waiter
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def _wait(self) -> None:
        fut = self.waiter
        if fut is None or fut.done():
            fut = self.waiter = self.server.loop.create_future()
        await asyncio.shield(fut)  # shared by receive() and send(): one's cancel is not the other's

    # -- the application's side -----------------------------------------
    async def receive(self) -> Dict[str, Any]:
        while not self.inbox:
            await self._wait()
        message = self.inbox.popleft()
        if message["type"] == "websocket.disconnect":
            self.inbox.append(message)  # every later receive() says it too
        return message

    async def send(self, message: Dict[str, Any]) -> None:
        mtype = message["type"]
        phase = self.phase
        if self.disconnected:
            raise ClientDisconnected("the WebSocket client has disconnected")
        if phase == _OPEN:
            if mtype == "websocket.send":
                text = message.get("text")
                if text is not None:
                    self.conn.ws_send(text, _native.WEBSOCKET_OP_TEXT)
                else:
                    data = message.get("bytes")
                    if data is None:
                        raise ValueError("websocket.send needs 'text' or 'bytes'")
                    self.conn.ws_send(bytes(data), _native.WEBSOCKET_OP_BINARY)
                self.server.kick()
                if self.conn.send_len > self.server.high_water:
                    await wait_for_room(self)
            elif mtype == "websocket.close":
                self._close_frame(message.get("code") or 1000, message.get("reason") or "")
            else:
                raise RuntimeError(f"Unexpected ASGI message {mtype!r} after websocket.accept")
        elif phase == _CONNECTING:
            if mtype == "websocket.accept":
                self._accept(message)
            elif mtype == "websocket.close":
                self._respond(_FORBIDDEN)
            elif mtype == "websocket.http.response.start":
                self.deny_status = int(message["status"])
                self.deny_headers = message.get("headers", ())
                self.phase = _DENYING
            else:
                raise RuntimeError(f"Expected ASGI message 'websocket.accept', 'websocket.close' or "
                                   f"'websocket.http.response.start', but got {mtype!r}")
        elif phase == _DENYING:
            if mtype != "websocket.http.response.body":
                raise RuntimeError(f"Expected 'websocket.http.response.body', but got {mtype!r}")
            self.deny_body.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                self._deny()
        else:
            raise RuntimeError(f"Unexpected ASGI message {mtype!r} after the WebSocket closed")

    def _accept(self, message: Dict[str, Any]) -> None:
        lines = [_SWITCHING, accept_key(self.key).encode("ascii"), b"\r\n"]
        sub = message.get("subprotocol")
        if sub is not None:
            lines.append(b"sec-websocket-protocol: " + sub.encode("latin-1") + b"\r\n")
        lines.append(_headers_block(message.get("headers", ())))
        lines.append(b"\r\n")
        self.conn._http_send(b"".join(lines), False)
        _go.AdapterWSSwitch(self.server.manager._mid, self.conn.id)
        self.phase = _OPEN
        self.server.kick()

    def _deny(self) -> None:
        body = b"".join(self.deny_body)
        headers = [(n, v) for n, v in self.deny_headers
                   if n.lower() not in (b"content-length", b"connection", b"transfer-encoding")]
        head = status_line(self.deny_status) + _headers_block(headers)
        self._respond(head + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body) + body)

    def _respond(self, data: bytes) -> None:
        self.phase = _CLOSED
        self.conn._http_send(data, True)
        self.conn.drain()
        self.server.kick()

    def _close_frame(self, code: int, reason: str) -> None:
        self.phase = _CLOSED
        payload = struct.pack("!H", code) + reason.encode("utf-8")[:123]
        self.conn.ws_send(payload, _OP_CLOSE)
        self.conn.drain()
        self.server.kick()

    # -- end of the application ------------------------------------------
    def app_failed(self) -> None:
        if self.disconnected:
            return
        if self.phase == _CONNECTING:
            self._respond(ERROR_500)
        elif self.phase == _DENYING:
            self.conn.close()
            self.server.kick()
        elif self.phase == _OPEN:
            self._close_frame(1011, "")

    def app_returned(self) -> Optional[str]:
        if self.disconnected:
            return None
        if self.phase == _CONNECTING:
            self._respond(ERROR_500)
            return "ASGI callable returned without sending handshake."
        if self.phase == _DENYING:
            self.conn.close()
            self.server.kick()
            return "ASGI callable returned without completing the denial response."
        if self.phase == _OPEN:
            self._close_frame(1000, "")
        return None


def _headers_block(headers: Any) -> bytes:
    lines = [name + b": " + value + b"\r\n" for name, value in headers]
    block = b"".join(lines)
    if HEADER_BLOCK_RE.fullmatch(block) is None or block.count(b"\n") != len(lines):
        raise RuntimeError(header_error(headers))
    return block
