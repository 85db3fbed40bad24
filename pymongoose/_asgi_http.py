"""One HTTP request/response cycle of :mod:`pymongoose.asgi` (ASGI HTTP spec 2.4).

Runs on the asyncio loop's thread, where the Manager is polled: ``send()``
frames the response itself and queues it with ``Connection._http_send``
(status line and header bytes as the application gave them, its own
Content-Length kept); it suspends only under back-pressure. ``receive()``
returns a small request body whole, without suspending; a large or chunked
one (pymongoose/_body_stream.py) in the pieces the engine delivered since
the last call, suspending until one arrives.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from ._http_adapter import (CHUNK, HEADER_BLOCK_RE, LAST_CHUNK, NO_BODY, decode_path,
                            header_name_error, header_value_error, origin_path, status_line)

if TYPE_CHECKING:  # pragma: no cover
    from .asgi import ASGIServer, _ConnState

_DISCONNECT = {"type": "http.disconnect"}
_KEEP_ALIVE = b"connection: keep-alive\r\n"
_CLOSE = b"connection: close\r\n"
_CHUNKED = b"transfer-encoding: chunked\r\n"
ERROR_500 = (status_line(500) + b"content-type: text/plain; charset=utf-8\r\n"
             b"content-length: 21\r\nconnection: close\r\n\r\nInternal Server Error")


class ClientDisconnected(OSError):
    """``send()`` on a connection whose client went away (ASGI HTTP 2.4)."""


class StreamedBody:
    """A request body the engine streams: the pieces the application has
    not received yet, and how the body ended (None: more to come; 0:
    complete; else a failure status of _body_stream.FAILURES)."""

    __slots__ = ("pieces", "status", "asked")

    def __init__(self) -> None:
        self.pieces: List[bytes] = []
        self.status: Optional[int] = None
        self.asked = False  # the application called receive()


class HTTPCycle:
    """State of one request: its scope, the body not yet received, and how
    the response is framed (decided at the first body message)."""

    __slots__ = ("server", "conn", "state", "scope", "body", "head", "keep_alive", "http10",
                 "status", "headers", "started", "complete", "disconnected", "chunked",
                 "remaining", "waiter", "stream")

    def __init__(self, server: "ASGIServer", state: "_ConnState", scope: Dict[str, Any],
                 body: Optional[bytes], head: bool, keep_alive: bool, http10: bool) -> None:
        self.server = server
        self.state = state
        self.conn = state.conn
        self.scope = scope
        self.body: Optional[bytes] = body
        self.head = head
        self.keep_alive = keep_alive
        self.http10 = http10
        self.status = 0
        self.headers: Any = ()
        self.started = False
        self.complete = False
        self.disconnected = False
        self.chunked = False
        self.remaining = -1  # body bytes the app's Content-Length still expects
        self.waiter: "Optional[asyncio.Future[None]]" = None
        self.stream: Optional[StreamedBody] = None  # the body streams (set by the server)

    # -- receive -------------------------------------------------------
    async def receive(self) -> Dict[str, Any]:
        body = self.body
        if body is not None:
            self.body = None
            return {"type": "http.request", "body": body, "more_body": False}
        stream = self.stream
        if stream is not None:
            return await self._receive_piece(stream)
        if not self.complete and not self.disconnected and not self.server.peer_gone(self):
            # long polling: wait for the response to end or the client to go
            watch = self.server.eof_watch
            watch[self.state.id] = self
            try:
                await self._wait()
            finally:
                watch.pop(self.state.id, None)
        return dict(_DISCONNECT)

    async def _receive_piece(self, stream: StreamedBody) -> Dict[str, Any]:
        """The streamed body received since the last call (suspending until
        some arrived), its end, or ``http.disconnect`` when it cannot end."""
        cid = self.state.id
        if not stream.asked:
            stream.asked = True
            self.server.body_consumed(cid, 0)  # sends a pending 100 Continue
        while not stream.pieces and stream.status is None and not self.disconnected:
            await self._wait()
        pieces = stream.pieces
        if pieces:
            body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            pieces.clear()
            more = stream.status != 0
            if not more:
                self.stream = None
            self.server.body_consumed(cid, len(body))
            return {"type": "http.request", "body": body, "more_body": more}
        if stream.status == 0:
            self.stream = None
            return {"type": "http.request", "body": b"", "more_body": False}
        # The engine answered the failure (or closes): nothing more goes out.
        self.disconnected = True
        return dict(_DISCONNECT)

    def on_body_piece(self, piece: bytes) -> None:
        """A piece of the streamed body arrived (EV_BODY_PIECE)."""
        assert self.stream is not None
        self.stream.pieces.append(piece)
        self._wake()

    def on_body_end(self, status: int) -> None:
        """The streamed body ended (EV_BODY_END: 0, or a failure)."""
        assert self.stream is not None
        self.stream.status = status
        if status:
            self.disconnected = True  # send() raises: the engine answers or closes
        self._wake()

    async def _wait(self) -> None:
        fut = self.waiter
        if fut is None or fut.done():
            fut = self.waiter = self.server.loop.create_future()
        await asyncio.shield(fut)

    def _wake(self) -> None:
        fut = self.waiter
        if fut is not None and not fut.done():
            fut.set_result(None)

    def on_close(self) -> None:
        """The connection closed (MG_EV_CLOSE)."""
        self.disconnected = True
        self._wake()

    def on_drain(self) -> None:
        """The send buffer went below the low-water mark."""
        self._wake()

    # -- send ----------------------------------------------------------
    async def send(self, message: Dict[str, Any]) -> None:
        mtype = message["type"]
        if mtype == "http.response.body":
            if self.disconnected:
                raise ClientDisconnected("the client has disconnected")
            if not self.started:
                raise RuntimeError("Expected ASGI message 'http.response.start', "
                                   "but got 'http.response.body'.")
            if self.complete:
                raise RuntimeError("Unexpected ASGI message 'http.response.body' sent, "
                                   "after response already completed.")
            body = message.get("body", b"")
            more = message.get("more_body", False)
            if self.headers is not None:
                data = self._head(body, more)
            elif self.head:
                data = b""
            elif self.chunked:
                data = CHUNK % (len(body), body) if body else b""
            else:
                data = self._counted(body)
            if more:
                if data:
                    self._write(data, False)
                    if self.conn.send_len > self.server.high_water:
                        await self._backpressure()
                return
            if self.chunked:
                data += LAST_CHUNK
            elif self.remaining > 0:
                raise RuntimeError("Response content shorter than Content-Length")
            self.complete = True
            self._write(data, True)
            if not self.keep_alive:
                self.conn.drain()
            self._wake()
            self.state.finished(self)
        elif mtype == "http.response.start":
            if self.disconnected:
                raise ClientDisconnected("the client has disconnected")
            if self.started:
                raise RuntimeError("Unexpected ASGI message 'http.response.start' sent, "
                                   "after response already started.")
            status = message["status"]
            if type(status) is not int:
                raise TypeError(f"ASGI status must be an int, got {type(status).__name__}")
            self.status = status
            self.headers = message.get("headers", ())
            self.started = True
        else:
            if self.disconnected:
                raise ClientDisconnected("the client has disconnected")
            raise RuntimeError(f"Unexpected ASGI message {mtype!r} for HTTP")

    def _write(self, data: bytes, end: bool) -> None:
        if type(data) is not bytes:  # a bytearray or memoryview body from the app
            data = bytes(data)
        try:
            self.conn._http_send(data, end)
        except RuntimeError:  # closed under us: MG_EV_CLOSE follows or went by
            self.disconnected = True
            raise ClientDisconnected("the client has disconnected") from None
        self.server.kick()

    async def _backpressure(self) -> None:
        await wait_for_room(self)
        if self.disconnected:
            raise ClientDisconnected("the client has disconnected")

    def _counted(self, body: bytes) -> bytes:
        if self.remaining < 0:  # close-delimited (HTTP/1.0 stream)
            return body
        n = len(body)
        if n > self.remaining:
            raise RuntimeError("Response content longer than Content-Length")
        self.remaining -= n
        return body

    def _head(self, body: bytes, more: bool) -> bytes:
        """The status line and headers, framed for the first body message
        (``body``, more to come or not), followed by that body."""
        headers = self.headers
        status = self.status
        lines: List[bytes] = [status_line(status)]
        length: Optional[bytes] = None
        chunked = False
        conn_header = False
        for name, value in headers:
            lname = name.lower()
            if lname == b"content-length":
                if length is None:
                    length = value
            elif lname == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif lname == b"connection":
                conn_header = True
                if b"close" in value.lower():
                    self.keep_alive = False
            lines.append(name)
            lines.append(b": ")
            lines.append(value)
            lines.append(b"\r\n")
        block = b"".join(lines[1:])
        if HEADER_BLOCK_RE.fullmatch(block) is None or block.count(b"\n") * 4 != len(lines) - 1:
            raise RuntimeError(header_error(headers))
        self.headers = None  # written: a failure from now on cuts the response
        no_body = self.head or status in NO_BODY
        if length is not None:
            self.remaining = int(length)
            if no_body:
                self.remaining = 0
                body = b""
            else:
                body = self._counted(body)
        elif chunked:
            if no_body:
                body = b""
            else:
                self.chunked = True
                body = CHUNK % (len(body), body) if body else b""
        elif not more:
            self.remaining = 0
            if self.head:
                if body:  # the length the GET would have
                    lines.append(b"content-length: %d\r\n" % len(body))
                body = b""
            elif no_body:
                body = b""
            else:
                lines.append(b"content-length: %d\r\n" % len(body))
        elif no_body:
            body = b""
            self.remaining = 0
        elif self.http10:
            self.keep_alive = False  # no chunked coding for HTTP/1.0: the close ends the body
        else:
            self.chunked = True
            lines.append(_CHUNKED)
            body = CHUNK % (len(body), body) if body else b""
        if not conn_header:
            if not self.keep_alive:
                lines.append(_CLOSE)
            elif self.http10:
                lines.append(_KEEP_ALIVE)
        lines.append(b"\r\n")
        lines.append(body)
        if self.head:
            self.chunked = False
        return b"".join(lines)

    # -- end of the application ------------------------------------------
    def app_failed(self) -> None:
        """The application raised: a 500 when nothing was sent yet, else the
        connection closes (the client must see the response is cut)."""
        if self.disconnected:
            return
        if not self.started or self.headers is not None:
            self.started = self.complete = True
            self.keep_alive = False
            try:
                self._write(ERROR_500, True)
            except OSError:
                return
            self.conn.drain()
            self.state.finished(self)
        elif not self.complete:
            self.complete = True
            self.conn.close()
            self.server.kick()

    def app_returned(self) -> Optional[str]:
        """The application returned; says what was wrong, if anything."""
        if self.complete or self.disconnected:
            return None
        if not self.started:
            self.app_failed()
            return "ASGI callable returned without starting response."
        self.app_failed()
        return "ASGI callable returned without completing response."


async def wait_for_room(cycle: Any) -> None:
    """Suspend ``cycle`` (an HTTPCycle or a WSCycle) until its connection's
    send buffer is down to the server's low-water mark or the client went."""
    server = cycle.server
    state = cycle.state
    while not cycle.disconnected and cycle.conn.send_len > server.low_water:
        state.blocked = cycle
        server.blocked[state.id] = state
        try:
            await cycle._wait()
        finally:
            state.blocked = None
            server.blocked.pop(state.id, None)


def header_error(headers: Any) -> str:
    """The first reason ``headers`` (ASGI: bytes pairs) cannot be sent."""
    for name, value in headers:
        if type(name) is not bytes or type(value) is not bytes:
            return f"ASGI header names and values must be bytes, got {name!r}: {value!r}"
        err = header_name_error(name) or header_value_error(value)
        if err:
            return err
    return "invalid HTTP header"


def request_parts(uri: str) -> Tuple[str, bytes]:
    """``(path, raw_path)`` of the engine's request target (without its
    query): absolute-form loses scheme and authority; the path is
    percent-decoded as uvicorn does."""
    if uri[:1] != "/":
        uri = origin_path(uri)
    raw = uri.encode("utf-8", "surrogateescape")
    if "%" in uri:
        return decode_path(raw), raw
    if not uri.isascii():
        return raw.decode("utf-8", "replace"), raw
    return uri, raw
