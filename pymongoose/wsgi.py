"""WSGI (PEP 3333) server on top of a pymongoose :class:`Manager`.

Typical use::

    from flask import Flask
    from pymongoose.wsgi import serve

    app = Flask(__name__)

    @app.route("/")
    def index():
        return "Hello"

    serve(app, "http://127.0.0.1:8000", workers=4)

The poll loop parses requests and writes responses; the application runs
in a pool of worker threads. Results come back to the poll thread through
``Manager.wakeup()`` (small results inline, larger ones through a side
table). Bodies under 1 MB are sent in one piece with a ``Content-Length``;
larger ones switch to chunked transfer encoding, fed through a bounded
queue so that a slow client slows the application down.
"""

from __future__ import annotations

import io
import json
import os
import queue
import signal
import sys
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple
from urllib.parse import unquote_to_bytes

from . import _mongoose as _native
from ._manager import Manager
from .aio import _new_manager

__all__ = ["WSGIServer", "serve", "FileWrapper"]

STREAM_THRESHOLD = 1 << 20  # bodies this large are streamed chunked
BATCH_SIZE = 256 * 1024  # largest chunk handed to the poll thread
QUEUE_BATCHES = 16  # batches in flight per streamed response
INLINE_LIMIT = 8 * 1024  # larger wakeup payloads go through the side table
SEND_HIGH = 1 << 20  # stop feeding a connection whose send buffer is this full

_END = object()
_ABORT = object()

_REASONS = {
    100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created", 202: "Accepted",
    203: "Non-Authoritative Information", 204: "No Content", 205: "Reset Content",
    206: "Partial Content", 300: "Multiple Choices", 301: "Moved Permanently", 302: "Found",
    303: "See Other", 304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 409: "Conflict", 410: "Gone",
    411: "Length Required", 412: "Precondition Failed", 413: "Payload Too Large",
    415: "Unsupported Media Type", 416: "Range Not Satisfiable", 418: "I'm a teapot",
    422: "Unprocessable Entity", 426: "Upgrade Required", 429: "Too Many Requests",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}


def _reason(code: int) -> str:
    return _REASONS.get(code, "")


class FileWrapper:
    """``wsgi.file_wrapper``: iterates over ``filelike.read(blksize)``
    blocks (str blocks are UTF-8 encoded); ``close()`` closes the file."""

    def __init__(self, filelike: Any, blksize: int = 8192) -> None:
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close  # type: ignore[method-assign]

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        data = self.filelike.read(self.blksize)
        if not data:
            raise StopIteration
        if isinstance(data, str):
            data = data.encode("utf-8")
        return data

    def close(self) -> None:  # replaced per instance when the file has close()
        pass


class _HeaderList:
    """A headers argument for ``reply()`` that keeps duplicates and order."""

    __slots__ = ("_items",)

    def __init__(self, items: List[Tuple[str, str]]) -> None:
        self._items = items

    def items(self) -> List[Tuple[str, str]]:
        return self._items


def _latin1(s: str) -> str:
    """HttpMessage text (UTF-8, surrogateescape) to a PEP 3333 native string."""
    return s.encode("utf-8", "surrogateescape").decode("latin-1")


def _check_header(name: Any, value: Any) -> None:
    if not isinstance(name, str) or not isinstance(value, str):
        raise TypeError("WSGI header names and values must be str")
    for ch in ("\r", "\n", "\0"):
        if ch in name or ch in value:
            raise ValueError(f"WSGI header contains an illegal character (CR, LF or NUL): {name!r}")


def _encode(kind: bytes, head: Any, body: bytes = b"") -> bytes:
    return kind + json.dumps(head, separators=(",", ":")).encode("utf-8") + b"\n" + body


def _decode(payload: bytes) -> Tuple[bytes, Any, bytes]:
    kind = payload[:1]
    nl = payload.index(b"\n", 1)
    return kind, json.loads(payload[1:nl].decode("utf-8")), payload[nl + 1:]


class _Request:
    """Per-connection state of the request being answered."""

    __slots__ = ("conn_id", "closed", "tokens", "queue", "close_after", "is_head", "http10",
                 "streaming", "done")

    def __init__(self, conn_id: int) -> None:
        self.conn_id = conn_id
        self.closed = False
        self.tokens: List[str] = []
        self.queue: "Optional[queue.Queue[Any]]" = None
        self.close_after = False
        self.is_head = False
        self.http10 = False
        self.streaming = False
        self.done = False


class WSGIServer:
    """A WSGI server: a wakeup-enabled :class:`Manager` whose HTTP requests
    are answered by ``app`` running in a pool of ``workers`` threads.

    ``stream_timeout`` bounds how long a worker waits for room in a streamed
    response's queue (a client that stops reading); the response is then
    aborted and the connection closed.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], workers: int = 4,
                 error_handler: Optional[Callable[[BaseException], Any]] = None,
                 stream_timeout: float = 5.0) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.app = app
        self.workers = workers
        self.stream_timeout = float(stream_timeout)
        self._manager: Manager = _new_manager(None, error_handler)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pymongoose-wsgi")
        self._lock = threading.Lock()
        self._requests: Dict[int, _Request] = {}
        self._side: Dict[str, bytes] = {}
        self._stop = threading.Event()
        self._running = False
        self._closed = False

    # -- public API ----------------------------------------------------
    @property
    def manager(self) -> Manager:
        """The underlying :class:`Manager`."""
        return self._manager

    def listen(self, url: str = "http://127.0.0.1:8000") -> "_native.Connection":
        """Listen for HTTP on ``url`` (port 0 picks a free port, read it back
        from ``conn.local_addr[1]``)."""
        return self._manager.listen(url, self._handle, http=True)

    def poll(self, timeout_ms: int = 0) -> None:
        """One poll iteration (for callers that drive the loop themselves)."""
        self._manager.poll(timeout_ms)

    def run(self, poll_ms: int = 100) -> None:
        """Poll until SIGINT/SIGTERM (or :meth:`close` from another thread),
        then close the server."""
        main = threading.current_thread() is threading.main_thread()
        previous: Dict[Any, Any] = {}

        def stop(signum: int, frame: Any) -> None:
            self._stop.set()

        if main:
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, stop)
        self._running = True
        try:
            while not self._stop.is_set():
                try:
                    self._manager.poll(poll_ms)
                except RuntimeError:
                    if self._stop.is_set():  # closed from another thread meanwhile
                        break
                    raise
        finally:
            self._running = False
            for sig, old in previous.items():
                signal.signal(sig, old)
            self._close_now()

    def close(self) -> None:
        """Stop serving: close every connection and the Manager, abort the
        streams in progress and shut the worker pool down. From another
        thread while :meth:`run` is active, stops that loop."""
        self._stop.set()
        if self._running:
            self._manager.close()  # interrupts and waits for the running poll
            return
        self._close_now()

    def _close_now(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            for req in self._requests.values():
                req.closed = True
            self._requests.clear()
            self._side.clear()
        try:
            self._manager.close()
        finally:
            self._pool.shutdown(wait=False)

    # -- poll-thread side ----------------------------------------------
    def _handle(self, conn: "_native.Connection", ev: int, data: Any) -> None:
        if ev == _native.MG_EV_HTTP_MSG:
            self._on_request(conn, data)
        elif ev == _native.MG_EV_WAKEUP:
            self._on_wakeup(conn, data)
        elif ev in (_native.MG_EV_WRITE, _native.MG_EV_POLL):
            req = self._requests.get(conn.id)
            if req is not None and req.streaming:
                self._pump(conn, req)
        elif ev == _native.MG_EV_CLOSE:
            with self._lock:
                req = self._requests.pop(conn.id, None)
                if req is not None:
                    req.closed = True
                    for t in req.tokens:
                        self._side.pop(t, None)

    def _environ(self, conn: "_native.Connection", msg: Any) -> Dict[str, Any]:
        local = conn.local_addr or ("127.0.0.1", 0, False)
        remote = conn.remote_addr or ("127.0.0.1", 0, False)
        host = local[0]
        if host in ("0.0.0.0", "0000:0000:0000:0000:0000:0000:0000:0000", "::"):
            host = "127.0.0.1"
        uri = msg.uri.encode("utf-8", "surrogateescape")
        body = msg.body_bytes
        env: Dict[str, Any] = {
            "REQUEST_METHOD": msg.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(uri).decode("latin-1"),
            "QUERY_STRING": _latin1(msg.query),
            "SERVER_NAME": host,
            "SERVER_PORT": str(local[1]),
            "SERVER_PROTOCOL": msg.proto or "HTTP/1.0",
            "REMOTE_ADDR": remote[0],
            "REMOTE_HOST": remote[0],
            "REMOTE_PORT": str(remote[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if conn.is_tls else "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.input_terminated": True,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.file_wrapper": FileWrapper,
        }
        for name, value in msg.headers():
            value = _latin1(value)
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                env[key] = value
                continue
            key = "HTTP_" + key
            if key in env:
                env[key] = env[key] + ", " + value
            else:
                env[key] = value
        if "CONTENT_LENGTH" not in env and body:
            env["CONTENT_LENGTH"] = str(len(body))
        return env

    def _on_request(self, conn: "_native.Connection", msg: Any) -> None:
        env = self._environ(conn, msg)
        req = _Request(conn.id)
        proto = env["SERVER_PROTOCOL"].upper()
        connection = env.get("HTTP_CONNECTION", "").lower()
        req.http10 = proto == "HTTP/1.0"
        req.close_after = connection == "close" or (req.http10 and "keep-alive" not in connection)
        req.is_head = env["REQUEST_METHOD"].upper() == "HEAD"
        with self._lock:
            self._requests[conn.id] = req
        try:
            self._pool.submit(self._work, req, env)
        except RuntimeError:  # pool shut down
            conn.reply(503, b"Service Unavailable\n", {"Content-Type": "text/plain"})
            conn.drain()

    def _on_wakeup(self, conn: "_native.Connection", payload: bytes) -> None:
        req = self._requests.get(conn.id)
        if req is None or not payload:
            return
        if payload[:1] == b"T":
            token = payload[1:].decode("ascii", "replace")
            with self._lock:
                stored = self._side.pop(token, None)
                if token in req.tokens:
                    req.tokens.remove(token)
            if stored is None:
                return
            payload = stored
        kind = payload[:1]
        if kind == b"C":
            self._pump(conn, req)
            return
        if kind == b"A":  # stream aborted by the worker
            self._finish(conn, req)
            conn.close()
            return
        try:
            kind, head, body = _decode(payload)
        except ValueError:
            return
        code, reason, headers = int(head[0]), head[1], [(k, v) for k, v in head[2]]
        if kind == b"R":
            self._finish(conn, req)
            items = [(k, v) for k, v in headers if k.lower() != "content-length"]
            if not any(k.lower() == "content-type" for k, _ in items):
                items.insert(0, ("Content-Type", "text/plain"))
            conn.reply(code, b"" if req.is_head else body, _HeaderList(items))  # type: ignore[arg-type]
            if req.close_after:
                conn.drain()
        elif kind == b"S":
            req.streaming = True
            lines = [f"HTTP/1.1 {code} {reason}\r\n"]
            for k, v in headers:
                if k.lower() in ("content-length", "transfer-encoding"):
                    continue
                lines.append(f"{k}: {v}\r\n")
            if not any(k.lower() == "content-type" for k, _ in headers):
                lines.insert(1, "Content-Type: text/plain\r\n")
            if req.http10:
                lines.append("Connection: close\r\n")
            else:
                lines.append("Transfer-Encoding: chunked\r\n")
            lines.append("\r\n")
            conn.send("".join(lines).encode("latin-1"))
            self._pump(conn, req)

    def _pump(self, conn: "_native.Connection", req: _Request) -> None:
        """Move queued batches of a streamed response into the send buffer
        while it has room."""
        q = req.queue
        if q is None or req.done:
            return
        while conn.send_len < SEND_HIGH:
            try:
                item = q.get_nowait()
            except queue.Empty:
                return
            if item is _END:
                self._finish(conn, req)
                if req.http10:
                    conn.drain()
                else:
                    conn.http_chunk(b"")
                    if req.close_after:
                        conn.drain()
                return
            if item is _ABORT:
                self._finish(conn, req)
                conn.close()
                return
            if req.http10:
                conn.send(item)
            else:
                conn.http_chunk(item)

    def _finish(self, conn: "_native.Connection", req: _Request) -> None:
        req.done = True
        req.streaming = False
        with self._lock:
            if self._requests.get(conn.id) is req:
                del self._requests[conn.id]
            for t in req.tokens:
                self._side.pop(t, None)
            req.tokens.clear()

    # -- worker side ---------------------------------------------------
    def _post(self, req: _Request, payload: bytes) -> bool:
        """Send ``payload`` to the poll thread for ``req``'s connection."""
        if len(payload) > INLINE_LIMIT:
            token = os.urandom(16).hex()
            with self._lock:
                if req.closed:
                    return False
                self._side[token] = payload
                req.tokens.append(token)
            payload = b"T" + token.encode("ascii")
        elif req.closed:
            return False
        try:
            return bool(self._manager.wakeup(req.conn_id, payload))
        except RuntimeError:  # Manager closed
            req.closed = True
            return False

    def _put(self, req: _Request, item: Any) -> bool:
        """Queue a batch of a streamed response, waiting at most
        ``stream_timeout`` for room."""
        q = req.queue
        assert q is not None
        waited = 0.0
        while True:
            if req.closed:
                return False
            try:
                q.put(item, timeout=0.05)
                break
            except queue.Full:
                waited += 0.05
                if waited >= self.stream_timeout:
                    return False
        return self._post(req, b"C")

    def _work(self, req: _Request, env: Dict[str, Any]) -> None:
        state: Dict[str, Any] = {"status": None, "headers": None, "sent": False}
        body: List[bytes] = []
        size = [0]

        def start_response(status: str, headers: List[Tuple[str, str]],
                           exc_info: Any = None) -> Callable[[bytes], None]:
            if exc_info is not None:
                try:
                    if state["sent"]:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            elif state["status"] is not None:
                raise AssertionError("start_response() called twice without exc_info")
            if not isinstance(status, str) or len(status) < 3 or not status[:3].isdigit():
                raise ValueError(f"invalid WSGI status {status!r}")
            hl = [(k, v) for k, v in headers]
            for k, v in hl:
                _check_header(k, v)
            state["status"], state["headers"] = status, hl
            return write

        def write(data: bytes) -> None:
            if state["status"] is None:
                raise AssertionError("write() before start_response()")
            if not isinstance(data, (bytes, bytearray)):
                raise TypeError("write() needs bytes")
            emit(bytes(data))

        def emit(data: bytes) -> None:
            if not data or req.is_head:  # HEAD: the body is dropped, never streamed
                return
            if state["sent"]:
                stream(data)
                return
            body.append(data)
            size[0] += len(data)
            if size[0] >= STREAM_THRESHOLD:
                start_stream()

        def head() -> List[Any]:
            status = state["status"]
            code = int(status[:3])
            reason = status[4:].strip() or _reason(code)
            return [code, reason, state["headers"]]

        def start_stream() -> None:
            req.queue = queue.Queue(QUEUE_BATCHES)
            state["sent"] = True
            if not self._post(req, _encode(b"S", head())):
                raise _Gone()
            pending = b"".join(body)
            body.clear()
            stream(pending)

        def stream(data: bytes) -> None:
            for i in range(0, len(data), BATCH_SIZE):
                if not self._put(req, data[i:i + BATCH_SIZE]):
                    raise _Gone()

        result: Any = None
        try:
            try:
                result = self.app(env, start_response)
                for chunk in result:
                    if state["status"] is None:
                        raise AssertionError("application yielded data before start_response()")
                    if isinstance(chunk, str):
                        raise TypeError("WSGI application yielded str, not bytes")
                    emit(bytes(chunk))
                if state["status"] is None:
                    raise AssertionError("application returned without calling start_response()")
            finally:
                if result is not None and hasattr(result, "close"):
                    result.close()
        except _Gone:
            if req.queue is not None and not req.closed:
                self._abort(req)
            return
        except Exception:
            traceback.print_exc()
            if state["sent"]:
                self._abort(req)
            else:
                self._post(req, _encode(b"R", [500, "Internal Server Error",
                                               [["Content-Type", "text/plain"]]],
                                        b"Internal Server Error"))
            return
        if state["sent"]:
            if self._put(req, _END):
                return
            self._abort(req)
            return
        self._post(req, _encode(b"R", head(), b"".join(body)))

    def _abort(self, req: _Request) -> None:
        self._post(req, b"A")


class _Gone(Exception):
    """The client went away (or stopped reading) while streaming."""


def serve(app: Callable[..., Iterable[bytes]], url: str = "http://127.0.0.1:8000",
          workers: int = 4, stream_timeout: float = 5.0) -> None:
    """Serve ``app`` on ``url`` until SIGINT/SIGTERM."""
    server = WSGIServer(app, workers=workers, stream_timeout=stream_timeout)
    try:
        conn = server.listen(url)
    except BaseException:
        server.close()
        raise
    ip, port, _ = conn.local_addr or ("?", 0, False)
    print(f"pymongoose WSGI server on http://{ip}:{port} ({workers} workers); Ctrl+C to stop",
          flush=True)
    server.run()


if __name__ == "__main__":  # python -m pymongoose.wsgi module:app
    from ._cli import main_wsgi
    raise SystemExit(main_wsgi())
