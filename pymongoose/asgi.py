"""ASGI 3.0 server on top of a pymongoose :class:`Manager`, driven by the
asyncio loop on its own thread.

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

The loop polls the Manager when its descriptor is readable; the request
handler builds the scope and starts the application at once (on Python 3.12+
as an eager task: an application that never suspends has answered before the
handler returns, and its response leaves in the same poll pass). There is no
thread and no hand-off between threads. Supported: ASGI 3.0 with HTTP 2.4
(request bodies of 256 KiB or more, and chunked ones, in ``http.request``
pieces as they arrive, smaller ones whole; responses whole or streamed;
back-pressure both ways; ``http.disconnect``), WebSocket 2.4 with the
``websocket.http.response`` extension, and lifespan with ``state``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import traceback
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Union

from . import _body_stream
from . import _mongoose as _native
from ._asgi_http import HTTPCycle, StreamedBody, request_parts
from ._asgi_lifespan import Lifespan, LifespanFailed
from ._asgi_ws import WSCycle
from ._gopy import pybind as _go
from ._http_adapter import connection_tokens, keep_alive, status_line
from ._loop import LoopDriver
from ._manager import LIMITS, Manager

__all__ = ["ASGIServer", "serve", "LifespanFailed"]

ASGIApp = Callable[[Dict[str, Any], Callable[[], Awaitable[Dict[str, Any]]],
                    Callable[[Dict[str, Any]], Awaitable[None]]], Awaitable[None]]

logger = logging.getLogger("pymongoose.asgi")

_NOT_STARTED = "ASGIServer is not started"
_EAGER = sys.version_info >= (3, 12)  # asyncio.Task(..., eager_start=True)
_LIMIT_NAMES = frozenset(name for name, _ in LIMITS)
_DEFAULT_HIGH_WATER = dict(LIMITS)["send_high_water"]

_BAD_UPGRADE = (status_line(400) + b"content-type: text/plain\r\ncontent-length: 32\r\n"
                b"connection: close\r\n\r\nMissing Sec-WebSocket-Key header")

_EV_HTTP_MSG = _native.MG_EV_HTTP_MSG
_EV_WRITE = _native.MG_EV_WRITE
_EV_CLOSE = _native.MG_EV_CLOSE
_EV_WS_MSG = _native.MG_EV_WS_MSG
_EV_WS_CTL = _native.MG_EV_WS_CTL
_EV_ACCEPT = _native.MG_EV_ACCEPT
_EV_BODY_HEAD = _body_stream.EV_BODY_HEAD
_EV_BODY_PIECE = _body_stream.EV_BODY_PIECE
_EV_BODY_END = _body_stream.EV_BODY_END
_SKIPPED = (_native.MG_EV_POLL, _native.MG_EV_READ, _native.MG_EV_HTTP_HDRS)


class _ConnState:
    """What the server keeps about one client connection."""

    __slots__ = ("id", "conn", "client", "server", "cycle", "blocked")

    def __init__(self, conn: "_native.Connection") -> None:
        self.id = conn.id
        self.conn = conn
        remote = conn.remote_addr
        local = conn.local_addr
        self.client = (remote[0], remote[1]) if remote else None
        self.server = (local[0], local[1]) if local else None
        self.cycle: Any = None
        self.blocked: Any = None  # the cycle waiting for the send buffer to drain

    def finished(self, cycle: Any) -> None:
        if self.cycle is cycle:
            self.cycle = None


class ASGIServer:
    """An ASGI 3.0 server: ``await start(url)`` runs the lifespan startup,
    listens and lets the running loop poll; ``await stop()`` stops
    gracefully (see :meth:`stop`).

    ``root_path`` goes into every scope; ``lifespan`` is ``"auto"``,
    ``"on"`` or ``"off"``; ``limits`` is a dict of :class:`Manager` limit
    keywords (``max_body_size``, ``send_high_water``, ...); with
    ``ssl_certfile`` and ``ssl_keyfile`` (PEM files) every accepted
    connection starts TLS and the scheme is https/wss.
    """

    def __init__(self, app: ASGIApp, error_handler: Optional[Callable[[BaseException], Any]] = None,
                 *, root_path: str = "", lifespan: str = "auto",
                 limits: Optional[Dict[str, int]] = None,
                 ssl_certfile: Optional[str] = None, ssl_keyfile: Optional[str] = None) -> None:
        self.app = app
        self.root_path = root_path
        self._error_handler = error_handler
        self._limits = dict(limits or {})
        unknown = set(self._limits) - _LIMIT_NAMES
        if unknown:
            raise TypeError(f"unknown Manager limit(s): {', '.join(sorted(unknown))}")
        if (ssl_certfile is None) != (ssl_keyfile is None):
            raise ValueError("ssl_certfile and ssl_keyfile go together")
        self._tls: Optional[_native.TlsOpts] = None
        if ssl_certfile is not None and ssl_keyfile is not None:
            with open(ssl_certfile, "rb") as f:
                cert = f.read()
            with open(ssl_keyfile, "rb") as f:
                key = f.read()
            self._tls = _native.TlsOpts(cert=cert, key=key)
        self.high_water = self._limits.get("send_high_water", _DEFAULT_HIGH_WATER) or (1 << 62)
        self.low_water = self.high_water // 2
        self.state: Dict[str, Any] = {}
        self.lifespan = Lifespan(app, self.state, lifespan)
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self.blocked: Dict[int, _ConnState] = {}
        self.eof_watch: Dict[int, HTTPCycle] = {}  # cycles whose app awaits receive()
        self._manager: Optional[Manager] = None
        self._driver: Optional[LoopDriver] = None
        self._listeners: List["_native.Connection"] = []
        self._conns: Dict[int, _ConnState] = {}
        self._tasks: Set["asyncio.Task[None]"] = set()
        self._closing = False
        self._idle: "Optional[asyncio.Event]" = None
        self._http_scheme = "https" if self._tls else "http"
        self._ws_scheme = "wss" if self._tls else "ws"

    @property
    def manager(self) -> Manager:
        """The underlying :class:`Manager` (``RuntimeError`` before start)."""
        if self._manager is None:
            raise RuntimeError(_NOT_STARTED)
        return self._manager

    # -- lifecycle -----------------------------------------------------
    async def start(self, url: str = "http://127.0.0.1:8000", *,
                    reuse_port: bool = False) -> "_native.Connection":
        """Run the lifespan startup, listen on ``url`` (``https://`` with
        TLS files) and start polling on the running loop. Returns the
        listening connection. Raises :class:`LifespanFailed` when the
        application's startup failed, RuntimeError when ``url`` cannot be
        bound."""
        if self._manager is not None:
            raise RuntimeError("ASGIServer is already started")
        self.loop = asyncio.get_running_loop()
        self._closing = False
        await self.lifespan.startup()
        manager = Manager(None, False, self._error_handler, **self._limits)
        # The frequent events the server has nothing to do with never reach Python.
        _go.AdapterSkipEvents(manager._mid, sum(1 << ev for ev in _SKIPPED))
        _go.AdapterAllHeaders(manager._mid)  # every header reaches the scope, not the first 30
        _body_stream.enable(manager)  # large bodies reach receive() as they arrive
        try:
            lst = manager.listen(url, self._handle, http=True, reuse_port=reuse_port)
        except BaseException:
            manager.close()
            await self.lifespan.shutdown()
            raise
        self._manager = manager
        self._listeners = [lst]
        self._driver = LoopDriver(manager, self.loop, on_error=self._on_poll_error,
                                  after_poll=self._after_poll)
        self._driver.start()
        return lst

    async def stop(self, graceful_timeout: float = 5.0) -> None:
        """Stop serving: close the listeners (the port is free at once),
        let the requests in progress finish for at most ``graceful_timeout``
        seconds while idle keep-alive connections close (open WebSockets
        get close code 1012), then cancel what is left, close the Manager
        and run the lifespan shutdown."""
        manager, driver = self._manager, self._driver
        if manager is None or driver is None:
            return
        self._closing = True
        for lst in self._listeners:
            lst.close()
        self._listeners = []
        for conn in manager.connections:
            if conn.is_listening:
                continue
            state = self._conns.get(conn.id)
            cycle = state.cycle if state is not None else None
            if cycle is None:
                conn.drain()  # idle keep-alive connection: nothing to finish
            elif isinstance(cycle, WSCycle):
                cycle.shutdown()
            else:
                cycle.keep_alive = False  # answered with Connection: close
        self.kick()
        if self._busy():
            self._idle = asyncio.Event()
            try:
                await asyncio.wait_for(self._idle.wait(), graceful_timeout)
            except asyncio.TimeoutError:
                logger.warning("graceful shutdown: %d request(s) still running after %g s; cancelling",
                               len(self._tasks), graceful_timeout)
            self._idle = None
        tasks = [t for t in self._tasks if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        # let the last responses leave before closing everything
        for _ in range(100):
            if not any(c.send_len for c in manager.connections):
                break
            await asyncio.sleep(0.01)
        driver.stop()
        self._manager = None
        self._driver = None
        manager.close()
        self._conns.clear()
        self.blocked.clear()
        await self.lifespan.shutdown()

    def _busy(self) -> bool:
        return any(not t.done() for t in self._tasks)

    def _on_poll_error(self, exc: BaseException) -> None:
        logger.error("pymongoose ASGI server: polling stopped", exc_info=exc)

    def _after_poll(self) -> None:
        if self.eof_watch:
            for cycle in list(self.eof_watch.values()):
                self.peer_gone(cycle)

    def peer_gone(self, cycle: HTTPCycle) -> bool:
        """True (and the connection closes) when the client of ``cycle``
        has closed its side: an application waiting for its next message
        gets ``http.disconnect``, as under uvicorn."""
        manager = self._manager
        conn = cycle.conn
        if manager is None or not conn.id or not _go.AdapterPeerEOF(manager._mid, conn.id):
            return False
        cycle.on_close()
        conn.close()
        self.kick()
        return True

    def body_consumed(self, conn_id: int, n: int) -> None:
        """The application received ``n`` more bytes of a streamed body (0:
        it asks for the body): the engine reads on."""
        manager = self._manager
        if manager is not None:
            _body_stream.consumed(manager, conn_id, n)
            self.kick()

    def kick(self) -> None:
        """Poll soon: output was queued outside poll()."""
        driver = self._driver
        if driver is not None:
            driver.kick()

    # -- engine events (on the loop thread, inside poll) -------------------
    def _handle(self, conn: "_native.Connection", ev: int, data: Any) -> None:
        if ev == _EV_HTTP_MSG:
            self._on_request(conn, data)
        elif ev == _EV_WRITE:
            if self.blocked:
                state = self.blocked.get(conn.id)
                if state is not None and state.blocked is not None and conn.send_len <= self.low_water:
                    state.blocked.on_drain()
        elif ev == _EV_CLOSE:
            state = self._conns.pop(conn.id, None)
            if state is not None and state.cycle is not None:
                state.cycle.on_close()
        elif ev == _EV_WS_MSG:
            state = self._conns.get(conn.id)
            if state is not None and state.cycle is not None:
                state.cycle.on_message(data)
        elif ev == _EV_WS_CTL:
            state = self._conns.get(conn.id)
            if state is not None and state.cycle is not None:
                state.cycle.on_control(conn)
        elif ev == _EV_BODY_PIECE or ev == _EV_BODY_END:
            state = self._conns.get(conn.id)
            cycle = state.cycle if state is not None else None
            if type(cycle) is HTTPCycle and cycle.stream is not None:
                if ev == _EV_BODY_PIECE:
                    cycle.on_body_piece(data)
                else:
                    cycle.on_body_end(data)
        elif ev == _EV_BODY_HEAD:
            self._on_request(conn, data, True)
        elif ev == _EV_ACCEPT and self._tls is not None:
            conn.tls_init(self._tls)

    def _on_request(self, conn: "_native.Connection", msg: Any, streamed: bool = False) -> None:
        """A request: whole (MG_EV_HTTP_MSG), or its head with the body
        to follow (``streamed``, EV_BODY_HEAD)."""
        state = self._conns.get(conn.id)
        if state is None:
            state = self._conns[conn.id] = _ConnState(conn)
        path, raw_path = request_parts(msg.uri)
        headers = [(k.lower().encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape"))
                   for k, v in msg.headers()]
        http10 = msg.proto == "HTTP/1.0"
        root = self.root_path
        scope: Dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.0" if http10 else "1.1",
            "server": state.server,
            "client": state.client,
            "scheme": self._http_scheme,
            "method": msg.method,
            "root_path": root,
            "path": root + path if root else path,
            "raw_path": raw_path,
            "query_string": msg.query.encode("utf-8", "surrogateescape"),
            "headers": headers,
            "state": self.state.copy(),
        }
        connection = msg.header("Connection")
        if connection is not None:
            tokens = connection_tokens(connection)
            if "upgrade" in tokens and not streamed and (msg.header("Upgrade") or "").lower() == "websocket":
                self._on_upgrade(state, scope, msg)
                return
            stay = keep_alive(http10, tokens)
        else:
            stay = not http10  # keep_alive(http10, ()) without the call
        if self._closing:
            stay = False
        cycle = HTTPCycle(self, state, scope, None if streamed else msg.body_bytes,
                          scope["method"] == "HEAD", stay, http10)
        if streamed:
            cycle.stream = StreamedBody()
        state.cycle = cycle
        self._start(self._run(cycle))

    def _on_upgrade(self, state: _ConnState, scope: Dict[str, Any], msg: Any) -> None:
        scope["type"] = "websocket"
        scope["scheme"] = self._ws_scheme
        del scope["method"]
        offered = msg.header("Sec-WebSocket-Protocol") or ""
        scope["subprotocols"] = [p.strip() for p in offered.split(",") if p.strip()]
        scope["extensions"] = {"websocket.http.response": {}}
        key = msg.header("Sec-WebSocket-Key")
        if not key:
            state.conn._http_send(_BAD_UPGRADE, True)
            state.conn.drain()
            return
        cycle = WSCycle(self, state, scope, key)
        state.cycle = cycle
        self._start(self._run(cycle))

    def _start(self, coro: Any) -> None:
        if _EAGER:
            task = asyncio.Task(coro, loop=self.loop, eager_start=True)  # type: ignore[call-arg]
            if task.done():
                return
        else:
            task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: "asyncio.Task[None]") -> None:
        self._tasks.discard(task)
        if self._idle is not None and not self._busy():
            self._idle.set()

    async def _run(self, cycle: Union[HTTPCycle, WSCycle]) -> None:
        """Run the application on one HTTP request or WebSocket session."""
        try:
            # An app should return None; what a faulty one returns is logged below.
            result = await self.app(cycle.scope, cycle.receive, cycle.send)  # type: ignore[func-returns-value]
        except BaseException as exc:  # noqa: BLE001
            if isinstance(exc, asyncio.CancelledError):
                cycle.app_failed()
                raise
            self._report(exc)
            cycle.app_failed()
            if not isinstance(exc, Exception):
                raise
            return
        problem = cycle.app_returned()
        if problem is not None:
            logger.error(problem)
        elif result is not None and type(cycle) is HTTPCycle:
            logger.error("ASGI callable should return None, but returned %r.", result)

    def _report(self, exc: BaseException) -> None:
        if self._error_handler is not None and isinstance(exc, Exception):
            try:
                self._error_handler(exc)
                return
            except Exception:
                pass
        print("Exception in ASGI application", file=sys.stderr)
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)


def serve(app: ASGIApp, url: str = "http://127.0.0.1:8000", *, root_path: str = "",
          lifespan: str = "auto", log_level: str = "info", ssl_certfile: Optional[str] = None,
          ssl_keyfile: Optional[str] = None, reuse_port: bool = False,
          limits: Optional[Dict[str, int]] = None, graceful_timeout: float = 30.0,
          loop: str = "auto") -> None:
    """Serve ``app`` on ``url`` until SIGINT or SIGTERM, then stop
    gracefully: the listener closes at once, requests in progress get at
    most ``graceful_timeout`` seconds to finish, idle connections close,
    and the lifespan shutdown runs before this returns.

    ``loop``: ``"auto"`` (uvloop when installed), ``"asyncio"`` or
    ``"uvloop"``. With ``ssl_certfile``/``ssl_keyfile`` the server speaks
    TLS (an ``http://`` url is served as ``https://``). Raises
    :class:`LifespanFailed` (a RuntimeError) when the application's startup
    fails and RuntimeError when the address cannot be bound.
    """
    level = getattr(logging, log_level.upper(), None) if log_level != "trace" else logging.DEBUG
    if not isinstance(level, int):
        raise ValueError(f"unknown log_level {log_level!r}")
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)
    if ssl_certfile and url.startswith("http://"):
        url = "https://" + url[len("http://"):]
    server = ASGIServer(app, root_path=root_path, lifespan=lifespan, limits=limits,
                        ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)

    async def main() -> None:
        lst = await server.start(url, reuse_port=reuse_port)
        ip, port, _ = lst.local_addr or ("?", 0, False)
        scheme = "https" if ssl_certfile else "http"
        host = f"[{ip}]" if ":" in ip else ip
        print(f"pymongoose ASGI server on {scheme}://{host}:{port}; Ctrl+C to stop", flush=True)
        stop = asyncio.Event()
        aloop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                aloop.add_signal_handler(sig, stop.set)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        try:
            await stop.wait()
        finally:
            for sig in installed:
                aloop.remove_signal_handler(sig)
            await server.stop(graceful_timeout)

    _run(main(), loop)


def _run(coro: Any, loop: str) -> None:
    if loop not in ("auto", "asyncio", "uvloop"):
        raise ValueError(f"loop must be 'auto', 'asyncio' or 'uvloop', got {loop!r}")
    if loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if loop == "uvloop":
                raise
        else:
            uvloop.run(coro)
            return
    asyncio.run(coro)


if __name__ == "__main__":  # python -m pymongoose.asgi module:app
    from ._cli import main_asgi
    raise SystemExit(main_asgi())
