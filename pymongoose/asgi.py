"""ASGI 3.0 server on top of a pymongoose :class:`Manager`.

Typical use::

    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from pymongoose.asgi import serve

    async def hello(request):
        return PlainTextResponse("Hello")

    app = Starlette(routes=[Route("/", hello)])
    serve(app, "http://127.0.0.1:8000")

or, inside an asyncio program::

    server = ASGIServer(app)
    await server.start("http://127.0.0.1:8000")
    ...
    await server.stop()

A daemon thread polls the Manager; the application runs as tasks on the
asyncio loop that called :meth:`ASGIServer.start`. What the application
sends travels back to the poll thread through ``Manager.wakeup()``.
Supported: lifespan, HTTP (whole request body in one ``http.request``,
responses in one piece or streamed with ``more_body``), WebSocket.
"""

from __future__ import annotations

import asyncio
import collections
import signal
import struct
import sys
import threading
import time
import traceback
from typing import Any, Awaitable, Callable, Deque, Dict, List, Optional, Set, Tuple
from urllib.parse import unquote

from . import _mongoose as _native
from ._manager import Manager
from .aio import _new_manager, _wakeup_id

__all__ = ["ASGIServer", "serve"]

ASGIApp = Callable[[Dict[str, Any], Callable[[], Awaitable[Dict[str, Any]]],
                    Callable[[Dict[str, Any]], Awaitable[None]]], Awaitable[None]]

_ASGI = {"version": "3.0", "spec_version": "2.4"}
CHUNKS_IN_FLIGHT = 16  # streamed body chunks per connection not yet in the send buffer
SEND_HIGH = 1 << 20  # stop moving chunks into a send buffer this full
_NOT_STARTED = "ASGIServer is not started"


class _HeaderList:
    """A headers argument for ``reply()`` that keeps duplicates and order."""

    __slots__ = ("_items",)

    def __init__(self, items: List[Tuple[str, str]]) -> None:
        self._items = items

    def items(self) -> List[Tuple[str, str]]:
        return self._items


def _text(b: Any) -> str:
    if isinstance(b, (bytes, bytearray)):
        return bytes(b).decode("latin-1")
    return str(b)


class _Conn:
    """Poll-thread state of one connection; ``out`` is fed by the loop."""

    __slots__ = ("id", "out", "pending", "cycle", "close_after", "is_head")

    def __init__(self, conn_id: int) -> None:
        self.id = conn_id
        self.out: Deque[Tuple[Any, ...]] = collections.deque()
        self.pending: Deque[Any] = collections.deque()
        self.cycle: Any = None
        self.close_after = False
        self.is_head = False


class _Cycle:
    """Loop-side state of one HTTP request or WebSocket session."""

    def __init__(self, server: "ASGIServer", state: _Conn, scope: Dict[str, Any],
                 body: bytes = b"") -> None:
        self.server = server
        self.state = state
        self.scope = scope
        self.body = body
        self.request_sent = False
        self.started = False
        self.finished = False
        self.disconnected = False
        self.status = 200
        self.headers: List[Tuple[str, str]] = []
        self.queue: "Optional[asyncio.Queue[Dict[str, Any]]]" = None
        self.gone: Optional[asyncio.Event] = None
        self.sem: Optional[asyncio.Semaphore] = None

    def setup(self) -> None:  # on the loop
        self.queue = asyncio.Queue()
        self.gone = asyncio.Event()
        self.sem = asyncio.Semaphore(CHUNKS_IN_FLIGHT)

    def post(self, *item: Any) -> None:
        if self.disconnected:
            return
        self.state.out.append(item)
        self.server._nudge(self.state.id)

    def on_disconnect(self) -> None:  # on the loop, from MG_EV_CLOSE
        if self.disconnected:
            return
        self.disconnected = True
        assert self.gone is not None and self.sem is not None and self.queue is not None
        self.gone.set()
        for _ in range(CHUNKS_IN_FLIGHT + 1):
            self.sem.release()
        if self.scope["type"] == "websocket":
            self.queue.put_nowait({"type": "websocket.disconnect", "code": 1000})

    # -- HTTP ----------------------------------------------------------
    async def http_receive(self) -> Dict[str, Any]:
        if not self.request_sent:
            self.request_sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        assert self.gone is not None
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def http_send(self, message: Dict[str, Any]) -> None:
        t = message.get("type")
        if self.disconnected:
            return
        if t == "http.response.start":
            if self.started:
                raise RuntimeError("http.response.start sent twice")
            self.started = True
            self.status = int(message["status"])
            hl = []
            for k, v in message.get("headers") or []:
                name, value = _text(k), _text(v)
                for ch in ("\r", "\n", "\0"):
                    if ch in name or ch in value:
                        raise ValueError("header contains an illegal character (CR, LF or NUL)")
                hl.append((name, value))
            self.headers = hl
        elif t == "http.response.body":
            if not self.started:
                raise RuntimeError("http.response.body sent before http.response.start")
            if self.finished:
                raise RuntimeError("http.response.body sent after the response ended")
            body = bytes(message.get("body") or b"")
            more = bool(message.get("more_body", False))
            if self.scope.get("method") == "HEAD":
                # no body, never chunked: one reply() once the app is done
                if more:
                    return
                body = b""
            if not more and self.status_pending():
                self.finished = True
                self.post("R", self.status, self.headers, body)
                self.done()
                return
            if self.status_pending():
                self.post("S", self.status, self.headers)
                self.streaming = True
            if body:
                assert self.sem is not None
                await self.sem.acquire()
                self.post("C", body)
            if not more:
                self.finished = True
                self.post("E")
                self.done()
        else:
            raise RuntimeError(f"unexpected ASGI message type {t!r} for HTTP")

    streaming = False

    def status_pending(self) -> bool:
        return not self.streaming

    def done(self) -> None:
        assert self.gone is not None
        self.gone.set()

    # -- WebSocket -----------------------------------------------------
    async def ws_receive(self) -> Dict[str, Any]:
        assert self.queue is not None
        return await self.queue.get()

    async def ws_send(self, message: Dict[str, Any]) -> None:
        t = message.get("type")
        if self.disconnected:
            return
        if t == "websocket.accept":
            self.started = True  # the handshake was answered on upgrade
        elif t == "websocket.send":
            if message.get("bytes") is not None:
                self.post("WB", bytes(message["bytes"]))
            elif message.get("text") is not None:
                self.post("WT", str(message["text"]))
        elif t == "websocket.close":
            if not self.finished:
                self.finished = True
                self.post("WC", int(message.get("code") or 1000), str(message.get("reason") or ""))
        else:
            raise RuntimeError(f"unexpected ASGI message type {t!r} for WebSocket")


class ASGIServer:
    """An ASGI 3.0 server: ``await start(url)`` runs the lifespan startup,
    listens and starts a poll thread; ``await stop()`` undoes it all."""

    def __init__(self, app: ASGIApp, error_handler: Optional[Callable[[BaseException], Any]] = None) -> None:
        self.app = app
        self._error_handler = error_handler
        self._manager: Optional[Manager] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._conns: Dict[int, _Conn] = {}
        self._tasks: Set["asyncio.Task[Any]"] = set()
        self._wid = 0
        self._state: Dict[str, Any] = {}
        self._ls_task: "Optional[asyncio.Task[Any]]" = None
        self._ls_queue: "Optional[asyncio.Queue[Dict[str, Any]]]" = None
        self._ls_waiters: Dict[str, "asyncio.Future[Dict[str, Any]]"] = {}
        self._ls_supported = False

    @property
    def manager(self) -> Manager:
        """The underlying :class:`Manager` (``RuntimeError`` before start)."""
        if self._manager is None:
            raise RuntimeError(_NOT_STARTED)
        return self._manager

    # -- lifecycle -----------------------------------------------------
    async def start(self, url: str = "http://127.0.0.1:8000") -> "_native.Connection":
        """Run the lifespan startup, listen on ``url`` and start polling.
        Returns the listening connection."""
        if self._manager is not None:
            raise RuntimeError("ASGIServer is already started")
        loop = asyncio.get_running_loop()
        self._loop = loop
        await self._lifespan_startup()
        manager = _new_manager(None, self._error_handler)
        try:
            conn = manager.listen(url, self._handle, http=True)
        except BaseException:
            manager.close()
            await self._lifespan_shutdown()
            raise
        self._manager = manager
        self._wid = _wakeup_id(manager)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="pymongoose-asgi-poll", daemon=True)
        self._thread.start()
        return conn

    async def stop(self) -> None:
        """Stop the poll thread, cancel the running application tasks, close
        the Manager and run the lifespan shutdown."""
        manager, thread = self._manager, self._thread
        if manager is None:
            return
        self._stop.set()
        self._nudge(self._wid)
        deadline = time.monotonic() + 5.0
        while thread is not None and thread.is_alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        tasks = [t for t in self._tasks if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if thread is None or not thread.is_alive():
            manager.close()
        self._manager = None
        self._thread = None
        self._conns.clear()
        await self._lifespan_shutdown()

    def _run(self) -> None:
        manager = self._manager
        assert manager is not None
        try:
            while not self._stop.is_set():
                manager.poll(100)
        except BaseException:  # noqa: BLE001
            if not self._stop.is_set():
                traceback.print_exc()

    # -- lifespan ------------------------------------------------------
    async def _lifespan_startup(self) -> None:
        loop = asyncio.get_running_loop()
        self._ls_queue = asyncio.Queue()
        self._ls_waiters = {
            "startup": loop.create_future(),
            "shutdown": loop.create_future(),
        }
        scope = {"type": "lifespan", "asgi": dict(_ASGI), "state": self._state}

        async def receive() -> Dict[str, Any]:
            assert self._ls_queue is not None
            return await self._ls_queue.get()

        async def send(message: Dict[str, Any]) -> None:
            t = message.get("type", "")
            for phase in ("startup", "shutdown"):
                if t.startswith(f"lifespan.{phase}."):
                    fut = self._ls_waiters[phase]
                    if not fut.done():
                        fut.set_result(message)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            except asyncio.CancelledError:
                raise
            except BaseException:  # noqa: BLE001 - lifespan unsupported or failing
                pass
            for fut in self._ls_waiters.values():
                if not fut.done():
                    fut.set_result({"type": "lifespan.ended"})

        self._ls_task = loop.create_task(run())
        self._ls_queue.put_nowait({"type": "lifespan.startup"})
        message = await self._ls_waiters["startup"]
        if message["type"] == "lifespan.ended":
            self._ls_supported = False  # apps without lifespan support are tolerated
            return
        if message["type"] == "lifespan.startup.failed":
            self._ls_supported = False
            raise RuntimeError(f"ASGI lifespan startup failed: {message.get('message', '')}")
        self._ls_supported = True

    async def _lifespan_shutdown(self) -> None:
        task = self._ls_task
        self._ls_task = None
        if task is None:
            return
        if self._ls_supported and not task.done():
            assert self._ls_queue is not None
            self._ls_queue.put_nowait({"type": "lifespan.shutdown"})
            try:
                await asyncio.wait_for(asyncio.shield(self._ls_waiters["shutdown"]), 5.0)
            except asyncio.TimeoutError:
                pass
        self._ls_supported = False
        if not task.done():
            try:
                await asyncio.wait_for(task, 5.0)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass
        if not task.done():
            task.cancel()

    # -- helpers --------------------------------------------------------
    def _nudge(self, conn_id: int) -> None:
        manager = self._manager
        if manager is None or not conn_id:
            return
        try:
            manager.wakeup(conn_id, b"")
        except RuntimeError:  # closed meanwhile
            pass

    def _to_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # loop closed
            pass

    def _spawn(self, cycle: _Cycle) -> None:  # on the loop
        cycle.setup()
        if cycle.scope["type"] == "websocket":
            assert cycle.queue is not None
            cycle.queue.put_nowait({"type": "websocket.connect"})
            coro = self._run_ws(cycle)
        else:
            coro = self._run_http(cycle)
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _feed(self, cycle: _Cycle, message: Dict[str, Any]) -> None:  # on the loop
        if cycle.queue is not None and not cycle.disconnected:
            cycle.queue.put_nowait(message)

    def _report(self) -> None:
        exc = sys.exc_info()[1]
        if self._error_handler is not None and isinstance(exc, Exception):
            try:
                self._error_handler(exc)
                return
            except Exception:
                pass
        traceback.print_exc()

    async def _run_http(self, cycle: _Cycle) -> None:
        try:
            await self.app(cycle.scope, cycle.http_receive, cycle.http_send)
        except asyncio.CancelledError:
            raise
        except Exception:
            self._report()
            if not cycle.started or (cycle.status_pending() and not cycle.finished):
                cycle.started = True
                cycle.finished = True
                cycle.post("R", 500, [("Content-Type", "text/plain")], b"Internal Server Error")
            elif not cycle.finished:
                cycle.finished = True
                cycle.post("X")
            cycle.done()
            return
        if not cycle.finished:
            cycle.finished = True
            if not cycle.started:
                cycle.post("R", 500, [("Content-Type", "text/plain")], b"Internal Server Error")
            else:
                cycle.post("X")  # incomplete response: the client must see it end
            cycle.done()

    async def _run_ws(self, cycle: _Cycle) -> None:
        try:
            await self.app(cycle.scope, cycle.ws_receive, cycle.ws_send)
        except asyncio.CancelledError:
            raise
        except Exception:
            self._report()
            if not cycle.finished:
                cycle.finished = True
                cycle.post("WC", 1011, "")
            return
        if not cycle.finished:
            cycle.finished = True
            cycle.post("WC", 1000, "")

    # -- poll-thread side -----------------------------------------------
    def _scope(self, conn: "_native.Connection", msg: Any, kind: str) -> Dict[str, Any]:
        local = conn.local_addr or ("127.0.0.1", 0, False)
        remote = conn.remote_addr or ("127.0.0.1", 0, False)
        raw_path = msg.uri.encode("utf-8", "surrogateescape")
        headers = [(k.encode("utf-8", "surrogateescape").lower(), v.encode("utf-8", "surrogateescape"))
                   for k, v in msg.headers()]
        proto = msg.proto.upper()
        tls = conn.is_tls
        scope: Dict[str, Any] = {
            "type": kind,
            "asgi": dict(_ASGI),
            "http_version": "1.0" if proto == "HTTP/1.0" else "1.1",
            "scheme": ("wss" if tls else "ws") if kind == "websocket" else ("https" if tls else "http"),
            "path": unquote(msg.uri, errors="surrogateescape"),
            "raw_path": raw_path,
            "query_string": msg.query.encode("utf-8", "surrogateescape"),
            "root_path": "",
            "headers": headers,
            "server": (local[0], local[1]),
            "client": (remote[0], remote[1]),
            "state": dict(self._state),
        }
        if kind == "http":
            scope["method"] = msg.method
        else:
            proto_hdr = msg.header("Sec-WebSocket-Protocol", "") or ""
            scope["subprotocols"] = [p.strip() for p in proto_hdr.split(",") if p.strip()]
        return scope

    def _handle(self, conn: "_native.Connection", ev: int, data: Any) -> None:
        if ev == _native.MG_EV_HTTP_MSG:
            state = self._conns.get(conn.id)
            if state is None:
                state = self._conns[conn.id] = _Conn(conn.id)
            upgrade = (data.header("Upgrade", "") or "").strip().lower()
            if upgrade == "websocket":
                scope = self._scope(conn, data, "websocket")
                conn.ws_upgrade(data)
                if not conn.is_websocket:
                    return
            else:
                scope = self._scope(conn, data, "http")
                connection = (data.header("Connection", "") or "").lower()
                state.close_after = connection == "close" or (
                    scope["http_version"] == "1.0" and "keep-alive" not in connection)
                state.is_head = data.method.upper() == "HEAD"
            cycle = _Cycle(self, state, scope, data.body_bytes)
            state.cycle = cycle
            self._to_loop(self._spawn, cycle)
        elif ev == _native.MG_EV_WS_MSG:
            state = self._conns.get(conn.id)
            if state is None or state.cycle is None:
                return
            op = data.flags & 0x0F
            if op == _native.WEBSOCKET_OP_TEXT:
                message = {"type": "websocket.receive", "text": data.text}
            else:
                message = {"type": "websocket.receive", "bytes": data.data}
            self._to_loop(self._feed, state.cycle, message)
        elif ev == _native.MG_EV_WAKEUP:
            state = self._conns.get(conn.id)
            if state is not None:
                self._drain_out(conn, state)
        elif ev in (_native.MG_EV_WRITE, _native.MG_EV_POLL):
            state = self._conns.get(conn.id)
            if state is not None and state.pending:
                self._pump(conn, state)
        elif ev == _native.MG_EV_CLOSE:
            state = self._conns.pop(conn.id, None)
            if state is not None and state.cycle is not None:
                self._to_loop(state.cycle.on_disconnect)

    def _drain_out(self, conn: "_native.Connection", state: _Conn) -> None:
        while state.out:
            item = state.out.popleft()
            kind = item[0]
            if kind == "R":
                _, status, headers, body = item
                items = [(k, v) for k, v in headers if k.lower() != "content-length"]
                conn.reply(status, b"" if state.is_head else body, _HeaderList(items))  # type: ignore[arg-type]
                if state.close_after:
                    conn.drain()
            elif kind == "S":
                _, status, headers = item
                lines = [f"HTTP/1.1 {status} {_reason(status)}\r\n"]
                for k, v in headers:
                    if k.lower() in ("content-length", "transfer-encoding"):
                        continue
                    lines.append(f"{k}: {v}\r\n")
                lines.append("Transfer-Encoding: chunked\r\n\r\n")
                conn.send("".join(lines).encode("latin-1"))
            elif kind in ("C", "E", "X"):
                state.pending.append(item)
                self._pump(conn, state)
            elif kind == "WT":
                conn.ws_send(item[1], _native.WEBSOCKET_OP_TEXT)
            elif kind == "WB":
                conn.ws_send(item[1], _native.WEBSOCKET_OP_BINARY)
            elif kind == "WC":
                payload = struct.pack("!H", item[1]) + item[2].encode("utf-8")[:123]
                conn.ws_send(payload, 8)
                conn.drain()
            if conn.is_closing or not conn.id:
                return

    def _pump(self, conn: "_native.Connection", state: _Conn) -> None:
        cycle = state.cycle
        while state.pending and conn.send_len < SEND_HIGH:
            item = state.pending.popleft()
            kind = item[0]
            if kind == "C":
                conn.http_chunk(item[1])
                if cycle is not None and cycle.sem is not None:
                    self._to_loop(cycle.sem.release)
            elif kind == "E":
                conn.http_chunk(b"")
                if state.close_after:
                    conn.drain()
            elif kind == "X":
                state.pending.clear()
                conn.close()
                return


def _reason(code: int) -> str:
    from .wsgi import _reason as r

    return r(code)


def serve(app: ASGIApp, url: str = "http://127.0.0.1:8000") -> None:
    """Serve ``app`` on ``url`` until SIGINT/SIGTERM."""

    async def main() -> None:
        server = ASGIServer(app)
        conn = await server.start(url)
        ip, port, _ = conn.local_addr or ("?", 0, False)
        print(f"pymongoose ASGI server on http://{ip}:{port}; Ctrl+C to stop", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        try:
            await stop.wait()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            await server.stop()

    asyncio.run(main())
