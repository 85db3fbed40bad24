"""WSGI (PEP 3333) server on top of a pymongoose :class:`Manager`.

Typical use::

    from flask import Flask
    from pymongoose.wsgi import serve

    app = Flask(__name__)

    @app.route("/")
    def index():
        return "Hello"

    serve(app, "http://127.0.0.1:8000", workers=4)

One thread polls the Manager: it parses requests, builds the environ and
writes responses. The application runs either on that thread
(``workers=0``, for applications that never block: no hand-off at all) or
in ``workers`` threads. Workers hand their output back through a queue
that the poll thread empties after every poll; a worker wakes the poll
thread only when it is asleep in ``poll()``, so a busy server answers many
requests per wakeup.

The response is framed here, as the application wrote it: its status line
(reason phrase included), its headers (latin-1), its ``Content-Length``;
chunked transfer coding when the length is unknown (HTTP/1.1) or a
close-delimited body (HTTP/1.0). Every block the application yields or
writes goes out when it is produced; a worker waits while the connection's
send buffer is above the Manager's ``send_high_water``.

With workers, a request body of 256 KiB or more (or a chunked one) streams:
the application starts at once and ``wsgi.input`` blocks until the bytes
it asks for have arrived (pymongoose/_wsgi_input.py). With ``workers=0``
the poll thread cannot block, so every body arrives whole first.
"""

from __future__ import annotations

import io
import re
import signal
import sys
import threading
import time
import traceback
from collections import deque
from email.utils import formatdate
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from . import _body_stream
from . import _mongoose as _native
from ._gopy import pybind as _go
from ._http_adapter import (CHUNK, FIELD_VALUE, HEADER_LINES_RE, LAST_CHUNK, NO_BODY, NO_LENGTH,
                            TOKEN_RE, connection_tokens, decode_path_latin1, header_value_error,
                            keep_alive, origin_path, status_line)
from ._manager import LIMITS, Manager
from ._wsgi_input import BodyInput

__all__ = ["WSGIServer", "serve", "FileWrapper"]

_EV_HTTP_MSG = _native.MG_EV_HTTP_MSG
_EV_WRITE = _native.MG_EV_WRITE
_EV_ACCEPT = _native.MG_EV_ACCEPT
_EV_CLOSE = _native.MG_EV_CLOSE
_EV_BODY_HEAD = _body_stream.EV_BODY_HEAD
_EV_BODY_PIECE = _body_stream.EV_BODY_PIECE
_EV_BODY_END = _body_stream.EV_BODY_END
# Events the server has nothing to do for (the most frequent ones): the
# binding does not deliver them (AdapterSkipEvents), nor MG_EV_WRITE while
# no response waits for room in its connection's send buffer.
_QUIET_EVENTS = frozenset((_native.MG_EV_POLL, _native.MG_EV_READ, _native.MG_EV_HTTP_HDRS,
                           _native.MG_EV_OPEN))
_QUIET_MASK = sum(1 << ev for ev in _QUIET_EVENTS)
_WRITE_BIT = 1 << _native.MG_EV_WRITE

_LOG_LEVELS = {"critical": 50, "error": 40, "warning": 30, "info": 20, "debug": 10, "trace": 5}

# PEP 3333 status: three digits, then optionally a space and a reason phrase
# (latin-1 text without control characters).
_STATUS_RE = re.compile(r"[0-9]{3}(?: " + FIELD_VALUE + ")?")

# Response headers that belong to the connection, not to the application
# (PEP 3333 forbids hop-by-hop headers): the server frames the response.
_HOP_HEADERS = ("connection", "transfer-encoding", "keep-alive")


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


# -- request side ------------------------------------------------------

_ENV_KEYS: Dict[str, str] = {}  # header name as received -> environ key ("" = dropped)


def _env_key(name: str) -> str:
    """The environ key of a request header: ``HTTP_`` + upper case with
    ``-`` as ``_``; CONTENT_TYPE/CONTENT_LENGTH without the prefix. A name
    that contains ``_`` is dropped (""): it would be indistinguishable from
    the ``-`` spelling (``X_Forwarded_For`` vs ``X-Forwarded-For``)."""
    key = _ENV_KEYS.get(name)
    if key is not None:
        return key
    if "_" in name:
        key = ""
    else:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
    if len(_ENV_KEYS) < 1024:  # hostile clients must not grow it forever
        _ENV_KEYS[name] = key
    return key


def _latin1(s: str) -> str:
    """HttpMessage text (UTF-8, surrogateescape) to a PEP 3333 native
    string: the received bytes, one character each."""
    return s.encode("utf-8", "surrogateescape").decode("latin-1")


# -- response side -----------------------------------------------------


def _check_headers(headers: Any) -> None:
    """Raise a clear error for the application's bad response headers
    (called once the fast check failed)."""
    if not isinstance(headers, list):
        raise TypeError(f"WSGI response headers must be a list, got {type(headers).__name__}")
    for item in headers:
        if not isinstance(item, tuple) or len(item) != 2:
            raise TypeError(f"WSGI response header must be a (name, value) tuple: {item!r}")
        name, value = item
        if type(name) is not str or type(value) is not str:
            raise TypeError(f"WSGI response header names and values must be str: {item!r}")
        if not TOKEN_RE.fullmatch(name):
            raise ValueError(f"invalid WSGI response header name {name!r}")
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(f"WSGI response header {name!r} has a value outside latin-1") from None
        if header_value_error(raw):
            raise ValueError(f"WSGI response header {name!r} has a control character in its value")
    raise ValueError("invalid WSGI response headers")


def _sift_headers(text: str) -> Tuple[str, bool]:
    """Drop hop-by-hop lines (Connection, Transfer-Encoding, Keep-Alive)
    from the header text; report whether a Connection line said close."""
    kept = []
    close = False
    for line in text.split("\r\n")[:-1]:
        name, _, value = line.partition(":")
        lname = name.lower()
        if lname in _HOP_HEADERS:
            if lname == "connection":
                close = close or "close" in connection_tokens(value)
            continue
        kept.append(line + "\r\n")
    return "".join(kept), close


def _drop_lines(text: str, lname: str) -> str:
    """The header text without the lines named ``lname`` (lower case)."""
    return "".join(line + "\r\n" for line in text.split("\r\n")[:-1]
                   if line.partition(":")[0].lower() != lname)


def _content_length(text: str, low: str) -> int:
    """The value of the application's Content-Length line(s) in ``text``."""
    values = set()
    start = 0
    while True:
        i = low.find("\ncontent-length:", start)
        if i < 0:
            break
        end = low.find("\r", i)
        values.add(text[i + 16:end].strip())
        start = end
    if len(values) != 1:
        raise ValueError(f"conflicting WSGI Content-Length headers: {sorted(values)}")
    value = values.pop()
    if not value.isdigit():
        raise ValueError(f"invalid WSGI Content-Length {value!r}")
    return int(value)


def _yielded_bytes(block: Any) -> bytes:
    """A block the application yielded that is not ``bytes``: a bytes-like
    copy, or TypeError (str included: PEP 3333 wants bytes)."""
    if isinstance(block, str) or not isinstance(block, (bytes, bytearray, memoryview)):
        raise TypeError(f"WSGI application yielded {type(block).__name__}, not bytes")
    return bytes(block)


_ERROR_500 = status_line(500) + b"Content-Type: text/plain\r\nContent-Length: 21\r\n"
_BODY_500 = b"\r\nInternal Server Error"

# Framing modes of a response body.
_LENGTH, _CHUNKED, _RAW, _NONE = 1, 2, 3, 4


class _Gone(Exception):
    """The client went away, or stopped reading for longer than
    ``stream_timeout``: the rest of the response is dropped."""


class _Head:
    """What a status and header list make of a response head, checked once:
    the status code, the head through the application's header lines
    (hop-by-hop lines dropped, latin-1 bytes), the application's
    Content-Length, whether it asked to close, whether it set Date."""

    __slots__ = ("code", "prefix", "text", "status", "app_len", "app_close", "has_date",
                 "no_body", "no_length")

    def __init__(self, status: Any, headers: Any) -> None:
        if type(status) is not str:
            raise TypeError(f"WSGI status must be str, got {type(status).__name__}")
        if not _STATUS_RE.fullmatch(status):
            raise ValueError(f"invalid WSGI status {status!r}")
        try:
            text = "".join([name + ": " + value + "\r\n" for name, value in headers])
        except (TypeError, ValueError):
            _check_headers(headers)
            raise
        if text.count("\n") != len(headers) or not HEADER_LINES_RE.fullmatch(text):
            _check_headers(headers)  # raises: CR/LF inside a field, a bad name or value
        low = "\n" + text.lower()
        self.app_len = _content_length(text, low) if "\ncontent-length:" in low else None
        self.app_close = False
        if "\nconnection:" in low or "\ntransfer-encoding:" in low or "\nkeep-alive:" in low:
            text, self.app_close = _sift_headers(text)
        self.has_date = "\ndate:" in low
        self.code = code = int(status[:3])
        self.no_body = code in NO_BODY
        self.no_length = code in NO_LENGTH
        self.status = status
        self.text = text
        self.prefix = ("HTTP/1.1 " + status + "\r\n" + text).encode("latin-1")


# (status, tuple(headers)) -> _Head: most applications repeat their heads
# (with constant strings, whose hashes are cached).
_HEADS: Dict[Any, _Head] = {}


def _head_of(status: Any, headers: Any) -> _Head:
    try:
        key = (status, tuple(headers))
        head = _HEADS.get(key)
    except TypeError:  # unhashable items (lists): checked, not cached
        return _Head(status, headers)
    if head is None:
        head = _Head(status, headers)
        if len(_HEADS) >= 512:
            _HEADS.clear()
        _HEADS[key] = head
    return head


class _Exchange:
    """One request and its response: ``start_response``, ``write`` and the
    framing of what the application produces, handed to the connection
    (poll thread) or to the hand-off queue (worker). Class attributes are
    the defaults: a request sets only what differs."""

    status: Optional[str] = None
    plan: "_Head"
    committed = False  # the head left (a non-empty block was produced)
    ended = False  # the whole response has been produced
    mode = 0
    left = 0  # _LENGTH: bytes still to send
    gone = False  # the connection closed
    posted = 0  # worker: bytes handed over ...
    moved = 0  # ... and bytes the poll thread queued on the connection
    backlog = 0  # the connection's send buffer after the last move/write
    room: Optional[threading.Event] = None
    waiting = False
    close = False  # the connection closes after this response
    is_head = False
    http10 = False
    worker = False  # the application runs in a worker thread
    body: Optional[BodyInput] = None  # wsgi.input of a streamed request body

    def __init__(self, server: "WSGIServer", conn: Any, cid: int) -> None:
        self.server = server
        self.conn = conn
        self.cid = cid

    # -- PEP 3333 callables ---------------------------------------------
    def start_response(self, status: str, headers: List[Tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.committed:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response() called twice without exc_info")
        try:
            head = _HEADS.get((status, tuple(headers)))
        except TypeError:
            head = None
        self.plan = head if head is not None else _head_of(status, headers)
        self.status = status
        return self.write

    def write(self, data: bytes) -> None:
        """PEP 3333 ``write()``: the block goes out now."""
        if self.status is None:
            raise AssertionError("write() before start_response()")
        if type(data) is not bytes:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(f"write() needs bytes, got {type(data).__name__}")
            data = bytes(data)
        if data:
            self.block(data)

    # -- framing ---------------------------------------------------------
    def head(self, known: Optional[int]) -> bytes:
        """The response head; ``known`` is the body length when the whole
        body is known already (then a missing Content-Length is added)."""
        plan = self.plan
        app_len = plan.app_len
        prefix = plan.prefix
        if plan.app_close:
            self.close = True
        extra = b""
        if plan.no_length:  # 1xx, 204: no body, no Content-Length
            if app_len is not None:
                text = _drop_lines(plan.text, "content-length")
                prefix = ("HTTP/1.1 " + plan.status + "\r\n" + text).encode("latin-1")
            self.mode = _NONE
            if plan.code < 200:
                self.close = True  # a final 1xx would leave the client waiting for more
        elif self.is_head or plan.no_body:  # no body; HEAD: the GET's Content-Length
            self.mode = _NONE
            if app_len is None and known is not None and not plan.no_body:
                extra = b"Content-Length: %d\r\n" % known
        elif app_len is not None:
            self.mode = _LENGTH
            self.left = app_len
            if known is not None and known < app_len:
                self.close = True  # the body ends early: only the close tells the client
        elif known is not None:
            self.mode = _LENGTH
            self.left = known
            extra = b"Content-Length: %d\r\n" % known
        elif self.http10:
            self.mode = _RAW  # no chunked coding for HTTP/1.0: the close ends the body
            self.close = True
        else:
            self.mode = _CHUNKED
            extra = b"Transfer-Encoding: chunked\r\n"
        server = self.server
        if server._stopping:
            self.close = True
        if self.close:
            extra += b"Connection: close\r\n"
        elif self.http10:
            extra += b"Connection: keep-alive\r\n"
        if plan.has_date:
            return prefix + extra + b"\r\n"
        return prefix + extra + server._date + b"\r\n"

    def frame(self, data: bytes) -> bytes:
        """One body block in the response's framing (b"" when nothing of
        it may be sent)."""
        mode = self.mode
        if mode == _LENGTH:
            left = self.left
            if len(data) > left:
                data = data[:left]
            self.left = left - len(data)
            return data
        if mode == _CHUNKED:
            return CHUNK % (len(data), data)
        if mode == _RAW:
            return data
        return b""

    def block(self, data: bytes) -> None:
        """A non-empty block from the application."""
        if self.ended:
            return
        if not self.committed:
            self.committed = True
            out = self.head(None) + self.frame(data)
        else:
            out = self.frame(data)
        mode = self.mode
        if mode == _NONE or mode == _LENGTH and self.left == 0:
            self.ended = True  # complete: the rest the application produces is dropped
            self.emit(out, True)
        elif out:
            self.emit(out, False)

    def whole(self, result: List[bytes]) -> None:
        """The application's whole body, known at once: its list result."""
        body = result[0] if len(result) == 1 else b"".join(result)
        if type(body) is not bytes:
            raise TypeError(f"WSGI application returned {type(body).__name__}, not bytes")
        if self.committed:
            if body:
                self.block(body)
            self.finish()
            return
        self.committed = self.ended = True
        head = self.head(len(body))
        if self.mode == _NONE:
            out = head
        elif self.mode == _LENGTH and self.left >= len(body):
            out = head + body
        else:
            out = head + self.frame(body)
        if self.worker:
            self.server._post(self, out, True)
            return
        try:
            self.conn._http_send(out, True)
            if self.close:
                self.conn.drain()
        except RuntimeError:  # the connection closed meanwhile
            self.gone = True

    def finish(self) -> None:
        """The application's iterable is exhausted."""
        if self.ended:
            return
        if not self.committed:
            self.whole([])
            return
        self.ended = True
        mode = self.mode
        if mode == _CHUNKED:
            self.emit(LAST_CHUNK, True)
        else:
            if mode == _LENGTH and self.left > 0:
                self.close = True  # shorter than its Content-Length
            self.emit(b"", True)

    def fail(self) -> None:
        """The application raised: a 500 if nothing was sent yet, else the
        connection is closed after what was sent (the client sees a
        truncated response)."""
        if self.ended:
            return
        self.ended = True
        if self.committed:
            self.close = True
            self.emit(None, True)
            return
        self.committed = True
        extra = self.server._date
        if self.close or self.server._stopping:
            self.close = True
            extra += b"Connection: close\r\n"
        elif self.http10:
            extra += b"Connection: keep-alive\r\n"
        body = b"\r\n" if self.is_head else _BODY_500
        self.emit(_ERROR_500 + extra + body, True)

    def emit(self, data: Optional[bytes], end: bool) -> None:
        """Framed bytes out (None: abandon the response, closing the
        connection after what was sent); ``end``: the response is complete."""
        if self.worker:
            self.server._post(self, data, end)
            return
        conn = self.conn
        try:
            if data is None:
                conn._http_send(b"", True)
                conn.drain()
                return
            conn._http_send(data, end)
            if end and (self.close or self.server._stopping):
                conn.drain()
        except RuntimeError:  # the connection closed meanwhile
            self.gone = True


class _ConnState:
    """What the server keeps per accepted connection."""

    __slots__ = ("base", "exchange", "pending")

    def __init__(self, base: Dict[str, Any]) -> None:
        self.base = base
        self.exchange: Optional[_Exchange] = None  # the request being answered
        self.pending: Any = None  # poll-thread mode: (iterator, result) still to pull


class _Pool:
    """Worker threads running jobs from a queue. A job wakes a sleeping
    worker only when no worker is awake: an awake worker takes the next job
    itself, so a fast application is served by one thread at a time, with
    no handover of the GIL per request. :meth:`nudge` (the poll thread,
    after each poll) wakes one more worker when jobs wait and none started
    for a millisecond: the awake ones are blocked (I/O, sleep)."""

    def __init__(self, size: int, run: Callable[..., None], log_errors: bool) -> None:
        self.jobs: "deque[Any]" = deque()
        self.lock = threading.Lock()
        self.idle: List[Any] = []  # the gates of sleeping workers
        self.awake = size
        self.started = 0
        self.seen = 0  # started, as of seen_at
        self.seen_at = 0.0
        self.run = run
        self.log_errors = log_errors
        self.threads = [threading.Thread(target=self._loop, name=f"pymongoose-wsgi-{i}", daemon=True)
                        for i in range(size)]
        for t in self.threads:
            t.start()

    def submit(self, job: Any) -> None:
        self.jobs.append(job)
        if self.awake == 0:
            self._wake()

    def nudge(self) -> None:
        now = time.monotonic()
        if self.started != self.seen:
            self.seen, self.seen_at = self.started, now
        elif self.jobs and (now - self.seen_at >= 0.001 or self.awake == 0):
            self._wake()  # no job started for a millisecond: the awake workers are blocked
            self.seen_at = now

    def stop(self, wait: float) -> None:
        for _ in self.threads:
            self.jobs.append(None)
        for _ in self.threads:
            self._wake()
        deadline = time.monotonic() + wait
        for t in self.threads:  # a worker stuck in the app is a daemon thread: not waited for
            t.join(max(0.0, deadline - time.monotonic()))

    def _wake(self) -> None:
        with self.lock:
            if not self.idle:
                return
            gate = self.idle.pop()
            self.awake += 1
        gate.release()

    def _sleep(self, gate: Any) -> None:
        with self.lock:
            self.awake -= 1
            self.idle.append(gate)
        if self.jobs:  # a job came meanwhile and may have found no worker awake
            with self.lock:
                try:
                    self.idle.remove(gate)
                    self.awake += 1
                    return
                except ValueError:
                    pass  # a waker took the gate: its release is coming
        gate.acquire()

    def _loop(self) -> None:
        gate = threading.Lock()
        gate.acquire()
        jobs = self.jobs
        run = self.run
        while True:
            try:
                job = jobs.popleft()
            except IndexError:
                self._sleep(gate)
                continue
            if job is None:
                return
            self.started += 1
            try:
                run(*job)
            except BaseException:  # a worker must survive anything the app does
                if self.log_errors:
                    traceback.print_exc()


class WSGIServer:
    """A WSGI server: a wakeup-enabled :class:`Manager` whose HTTP requests
    are answered by ``app``.

    ``workers`` threads run the application (``workers=0``: the poll
    thread runs it, the fastest choice for an application that never
    blocks: no database, no network, no sleep). ``stream_timeout`` bounds
    how long a worker waits, without progress, for room in a connection's
    send buffer (a client that stopped reading); the response is then
    abandoned and the connection closed. ``root_path`` is the mount point
    (``SCRIPT_NAME``; stripped from the front of ``PATH_INFO``).
    ``limits`` are :class:`Manager` keyword limits (``max_body_size`` ...).
    ``ssl_certfile``/``ssl_keyfile`` (PEM files) serve HTTPS.

    The server's :attr:`manager` delivers no MG_EV_POLL, MG_EV_READ,
    MG_EV_HTTP_HDRS or MG_EV_OPEN to any handler, and MG_EV_WRITE only
    while a response waits for room: each would cost a Python call.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], workers: int = 4,
                 error_handler: Optional[Callable[[BaseException], Any]] = None,
                 stream_timeout: float = 5.0, *, root_path: str = "",
                 limits: Optional[Dict[str, int]] = None, ssl_certfile: Optional[str] = None,
                 ssl_keyfile: Optional[str] = None, log_level: str = "info") -> None:
        if not isinstance(workers, int) or isinstance(workers, bool):
            raise TypeError(f"workers must be an int, got {type(workers).__name__}")
        if workers < 0:
            raise ValueError(f"workers must be 0 (run the app on the poll thread) or more, got {workers}")
        if not callable(app):
            raise TypeError("app must be a WSGI callable")
        if not isinstance(root_path, str):
            raise TypeError("root_path must be a str")
        if root_path and not root_path.startswith("/"):
            raise ValueError(f"root_path must start with '/', got {root_path!r}")
        level = _LOG_LEVELS.get(str(log_level).lower())
        if level is None:
            raise ValueError(f"log_level must be one of {', '.join(_LOG_LEVELS)}, got {log_level!r}")
        limits = dict(limits or {})
        known = {name for name, _ in LIMITS}
        unknown = set(limits) - known
        if unknown:
            raise TypeError(f"unknown Manager limits: {', '.join(sorted(unknown))}")
        if (ssl_certfile is None) != (ssl_keyfile is None):
            raise ValueError("ssl_certfile and ssl_keyfile go together")
        self._tls: Any = None
        if ssl_certfile is not None:
            from ._tls import TlsOpts

            with open(ssl_certfile, "rb") as f:
                cert = f.read()
            with open(ssl_keyfile, "rb") as f:  # type: ignore[arg-type]
                key = f.read()
            self._tls = TlsOpts(cert=cert, key=key)
        self.app = app
        self.workers = workers
        self.stream_timeout = float(stream_timeout)
        self.root_path = root_path.rstrip("/")
        self.log_level = level
        self._high = int(limits.get("send_high_water", dict(LIMITS)["send_high_water"])) or (1 << 20)
        kwargs: Dict[str, Any] = dict(limits)
        if error_handler is not None:
            kwargs["error_handler"] = error_handler
        self._manager = Manager(self._handle, True, **kwargs)
        _go.AdapterAllHeaders(self._manager._mid)  # every header reaches environ, not the first 30
        self._skip_writes: Optional[bool] = None
        self._wakeup_id = self._manager.wakeup_id
        self._conns: Dict[int, _ConnState] = {}
        self._listeners: List[Any] = []
        self._done: "deque[Tuple[_Exchange, Optional[bytes], bool]]" = deque()
        self._consumed: "deque[Tuple[_Exchange, int]]" = deque()  # streamed body read by workers
        self._streams: Dict[int, _Exchange] = {}  # worker responses waiting for room
        self._pulls: set = set()  # workers=0: connections whose response is pulled on MG_EV_WRITE
        self._sleeping = False  # the poll thread waits in poll(): a hand-off must wake it
        self._woken = False
        self._stop = threading.Event()
        self._stopping = False  # graceful shutdown: every response closes its connection
        self._running = False
        self._closed = False  # stop without the graceful part
        self._shut = False  # _close_now() ran
        self._watch_writes()
        self._update_date()
        self._manager.timer_add(1000, self._update_date, repeat=True)
        self._pool = _Pool(workers, self._run_app, level <= 40) if workers else None
        if workers:  # a worker may block in wsgi.input; the poll thread may not
            _body_stream.enable(self._manager)
            _go.AdapterNoYield(self._manager._mid)  # app threads wait to run: no P hand-offs

    # -- public API ----------------------------------------------------
    @property
    def manager(self) -> Manager:
        """The underlying :class:`Manager`."""
        return self._manager

    def listen(self, url: str = "http://127.0.0.1:8000", *, reuse_port: bool = False) -> "_native.Connection":
        """Listen for HTTP on ``url`` (port 0 picks a free port, read it back
        from ``conn.local_addr[1]``). With TLS files given, an ``http://``
        URL is served as ``https://``."""
        if self._tls is not None and url.lower().startswith("http://"):
            url = "https://" + url[7:]
        conn = self._manager.listen(url, self._handle, http=True, reuse_port=reuse_port)
        self._listeners.append(conn)
        return conn

    def poll(self, timeout_ms: int = 0) -> None:
        """One poll iteration (for callers that drive the loop themselves):
        worker output is queued on the connections before and after it."""
        self._flush()
        self._sleeping = True  # a worker's hand-off ends the wait
        try:
            self._manager.poll(0 if self._done or self._consumed else timeout_ms)
        finally:
            self._sleeping = False
            self._woken = False
        self._flush()

    def run(self, poll_ms: int = 100, graceful_timeout: float = 30.0) -> None:
        """Poll until SIGINT/SIGTERM (main thread) or :meth:`close` from
        another thread. SIGINT/SIGTERM stop gracefully: the listeners close,
        the requests in progress are answered and their responses sent (for
        up to ``graceful_timeout`` seconds), idle connections close; then
        the server is closed. A second signal stops at once."""
        main = threading.current_thread() is threading.main_thread()
        previous: Dict[Any, Any] = {}
        manager = self._manager
        done = self._done
        consumed = self._consumed
        stop = self._stop
        pool = self._pool

        def on_signal(signum: int, frame: Any) -> None:
            if stop.is_set():  # a second Ctrl+C: no more waiting
                self._closed = True
            stop.set()

        if main:
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, on_signal)
        self._running = True
        deadline = 0.0
        try:
            while True:
                if stop.is_set():
                    if self._closed:
                        break
                    if not self._stopping:
                        self._begin_stop()
                        deadline = time.monotonic() + graceful_timeout
                    if not self._conns or time.monotonic() >= deadline:
                        break
                if done or consumed:
                    self._flush()
                if pool is not None and pool.jobs:
                    pool.nudge()
                    wait = 1  # soon again: are the awake workers blocked?
                else:
                    wait = poll_ms
                self._sleeping = True
                try:
                    manager.poll(0 if done or consumed else wait)
                except RuntimeError:
                    if self._closed or stop.is_set():  # closed from another thread meanwhile
                        break
                    raise
                finally:
                    self._sleeping = False
                    self._woken = False
        finally:
            self._running = False
            for sig, old in previous.items():
                signal.signal(sig, old)
            self._close_now()

    def close(self) -> None:
        """Stop serving now: close every connection and the Manager and stop
        the workers. From another thread while :meth:`run` is active, stops
        that loop (without the graceful part)."""
        self._stop.set()
        if self._running:
            self._closed = True
            self._manager.close()  # interrupts and waits for the running poll
            return
        self._close_now()

    # -- shutdown ------------------------------------------------------
    def _begin_stop(self) -> None:
        """Graceful stop: free the ports, close idle connections; busy ones
        close after their response."""
        self._stopping = True
        for lst in self._listeners:
            try:
                lst.close()
            except RuntimeError:
                pass
        self._listeners.clear()
        for cid, st in list(self._conns.items()):
            if st.exchange is None:
                try:
                    self._manager._conn(cid).drain()
                except RuntimeError:
                    pass

    def _close_now(self) -> None:
        if self._shut:
            return
        self._shut = True
        self._closed = True
        for st in self._conns.values():
            if st.exchange is not None:
                self._gone(st.exchange)
        self._conns.clear()
        try:
            self._manager.close()
        finally:
            if self._pool is not None:
                self._pool.stop(0.5)

    # -- poll-thread side ----------------------------------------------
    def _update_date(self) -> None:
        """The Date header line, refreshed by a one-second timer."""
        self._date = b"Date: " + formatdate(time.time(), usegmt=True).encode("ascii") + b"\r\n"

    def _handle(self, conn: "_native.Connection", ev: int, data: Any) -> None:
        if ev == _EV_HTTP_MSG:
            self._sleeping = False  # poll() returns after this pass: no wakeup needed
            self._on_request(conn, data)
        elif ev in _QUIET_EVENTS:
            return
        elif ev == _EV_WRITE:
            if self._streams or self._pulls:  # only these wait for room
                cid = conn.id
                ex = self._streams.get(cid)
                if ex is not None:
                    self._progress(ex, conn)
                elif cid in self._pulls:
                    self._pump(conn, self._conns[cid])
        elif ev == _EV_BODY_PIECE or ev == _EV_BODY_END:
            st = self._conns.get(conn.id)
            ex = st.exchange if st is not None else None
            if ex is not None and ex.body is not None:
                if ev == _EV_BODY_PIECE:
                    ex.body.feed(data)
                else:
                    ex.body.end(data)
                    if data:
                        self._gone(ex)  # the engine answered the failure or closes
        elif ev == _EV_BODY_HEAD:
            self._sleeping = False
            self._on_request(conn, data, True)
        elif ev == _EV_ACCEPT:
            if self._tls is not None:
                conn.tls_init(self._tls)
        elif ev == _EV_CLOSE:
            st = self._conns.pop(conn.id, None)
            if st is not None:
                if st.exchange is not None:
                    self._gone(st.exchange)
                if st.pending is not None:
                    self._close_result(st.pending[1])
                    st.pending = None
                    self._pulls.discard(conn.id)
                    self._watch_writes()

    def _gone(self, ex: _Exchange) -> None:
        ex.gone = True
        if ex.body is not None:
            ex.body.end(_body_stream.CLIENT_GONE)  # a worker blocked in wsgi.input raises
        if self._streams.pop(ex.cid, None) is not None:
            self._watch_writes()
        room = ex.room
        if room is not None:
            room.set()

    def _watch_writes(self) -> None:
        """MG_EV_WRITE reaches Python only while a response waits for room."""
        skip = not (self._streams or self._pulls)
        if skip != self._skip_writes and not self._shut:
            self._skip_writes = skip
            try:
                _go.AdapterSkipEvents(self._manager._mid, _QUIET_MASK | (_WRITE_BIT if skip else 0))
            except RuntimeError:  # the Manager is closed
                pass

    def _new_conn(self, conn: "_native.Connection") -> _ConnState:
        local = conn.local_addr or ("127.0.0.1", 0, False)
        remote = conn.remote_addr or ("", 0, False)
        host = local[0]
        if host in ("0.0.0.0", "::", "0000:0000:0000:0000:0000:0000:0000:0000"):
            host = "127.0.0.1"
        base = {
            "SCRIPT_NAME": self.root_path,
            "SERVER_NAME": host,
            "SERVER_PORT": str(local[1]),
            "SERVER_SOFTWARE": "pymongoose",
            "REMOTE_ADDR": remote[0],
            "REMOTE_HOST": remote[0],
            "REMOTE_PORT": str(remote[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if conn.is_tls else "http",
            "wsgi.input_terminated": True,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": self.workers > 0,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.file_wrapper": FileWrapper,
        }
        st = _ConnState(base)
        self._conns[conn.id] = st
        return st

    def _on_request(self, conn: "_native.Connection", msg: Any, streamed: bool = False) -> None:
        """A request: whole (MG_EV_HTTP_MSG), or its head with the body to
        follow (``streamed``: EV_BODY_HEAD, workers only)."""
        cid = conn.id
        st = self._conns.get(cid)
        if st is None:
            st = self._new_conn(conn)
        env = st.base.copy()
        env["REQUEST_METHOD"] = method = msg.method
        env["SERVER_PROTOCOL"] = proto = msg.proto
        path = msg.uri
        if path[:1] != "/":
            path = origin_path(path)
        if "%" in path or not path.isascii():
            path = decode_path_latin1(path)
        root = self.root_path
        if root and (path == root or path.startswith(root + "/")):
            path = path[len(root):]
        env["PATH_INFO"] = path
        query = msg.query
        env["QUERY_STRING"] = query if query.isascii() else _latin1(query)
        keys = _ENV_KEYS
        for name, value in msg.headers():
            key = keys.get(name)
            if key is None:
                key = _env_key(name)
                if not key:
                    continue
            elif not key:
                continue
            if not value.isascii():
                value = _latin1(value)
            if key in env:
                env[key] = env[key] + ", " + value
            else:
                env[key] = value
        ex = _Exchange(self, conn, cid)
        if streamed:
            ex.body = env["wsgi.input"] = BodyInput(lambda n: self._body_consumed(ex, n))
        else:
            body = msg.body_bytes
            env["wsgi.input"] = io.BytesIO(body)
            if body and "CONTENT_LENGTH" not in env:
                env["CONTENT_LENGTH"] = str(len(body))
        http10 = proto != "HTTP/1.1"
        connection = env.get("HTTP_CONNECTION")
        # no Connection header: keep_alive(http10, ()), i.e. HTTP/1.0 closes (spares two calls)
        close = http10 if connection is None else not keep_alive(http10, connection_tokens(connection))
        if method == "HEAD":
            ex.is_head = True
        if http10:
            ex.http10 = True
        if close or self._stopping:
            ex.close = True
        st.exchange = ex
        if self.workers:
            ex.worker = True
            self._pool.submit((ex, env))  # type: ignore[union-attr]
        else:
            self._serve_here(st, ex, env)

    def _serve_here(self, st: _ConnState, ex: _Exchange, env: Dict[str, Any]) -> None:
        """workers=0: run the application now, on the poll thread."""
        result: Any = None
        try:
            result = self.app(env, ex.start_response)
            if type(result) is list and ex.status is not None and not ex.committed:
                ex.whole(result)
            else:
                it = iter(result)
                if self._pull(ex, it, self._high):
                    st.pending = (it, result)  # the rest when the send buffer has room
                    self._pulls.add(ex.cid)
                    self._watch_writes()
                    result = None
                    return
                if ex.status is None:
                    raise AssertionError("application returned without calling start_response()")
                ex.finish()
        except Exception:
            self._app_error()
            ex.fail()
        finally:
            if result is not None and type(result) is not list:
                self._close_result(result)
        st.exchange = None

    def _pull(self, ex: _Exchange, it: Iterator[bytes], budget: int) -> bool:
        """Take blocks from the application's iterator until it is exhausted
        (False) or ``budget`` bytes were produced (True: more may follow)."""
        size = 0
        for chunk in it:
            if type(chunk) is not bytes:
                chunk = _yielded_bytes(chunk)
            if not chunk:
                continue
            if ex.status is None:
                raise AssertionError("application yielded data before start_response()")
            ex.block(chunk)
            size += len(chunk)
            if size >= budget and not ex.ended:
                return True
        return False

    def _pump(self, conn: "_native.Connection", st: _ConnState) -> None:
        """workers=0: go on with a large response once its connection's send
        buffer has room."""
        if conn.send_len > self._high // 2:
            return
        it, result = st.pending
        ex = st.exchange
        assert ex is not None
        try:
            if self._pull(ex, it, self._high):
                return
            ex.finish()
        except Exception:
            self._app_error()
            ex.fail()
        st.pending = None
        st.exchange = None
        self._pulls.discard(ex.cid)
        self._watch_writes()
        self._close_result(result)

    def _close_result(self, result: Any) -> None:
        close = getattr(result, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                self._app_error()

    def _app_error(self) -> None:
        if self.log_level <= 40:
            traceback.print_exc()

    # -- hand-off: worker -> poll thread -------------------------------
    def _post(self, ex: _Exchange, data: Optional[bytes], end: bool) -> None:
        """Worker side: hand framed bytes over (None: abort the response),
        waiting while the connection has too much unsent output."""
        if ex.gone:
            raise _Gone()
        if data:
            if ex.posted - ex.moved + ex.backlog > self._high:
                self._wait_room(ex)
            ex.posted += len(data)
        self._done.append((ex, data, end))
        self._wake_poller()

    def _body_consumed(self, ex: _Exchange, n: int) -> None:
        """Worker side: the application read ``n`` bytes of its streamed
        body (0: it starts reading); the poll thread tells the engine."""
        if ex.gone:
            return
        self._consumed.append((ex, n))
        self._wake_poller()

    def _wake_poller(self) -> None:
        """Worker side: end the poll thread's wait, if it waits."""
        if self._sleeping and not self._woken:
            self._woken = True
            try:
                self._manager.wakeup(self._wakeup_id, b"")
            except RuntimeError:  # closed
                pass

    def _wait_room(self, ex: _Exchange) -> None:
        room = ex.room
        if room is None:
            room = ex.room = threading.Event()
        high = self._high
        try:
            while True:
                room.clear()
                ex.waiting = True
                if ex.gone:
                    raise _Gone()
                if ex.posted - ex.moved + ex.backlog <= high:
                    return
                if not room.wait(self.stream_timeout):  # no progress at all meanwhile
                    raise _Gone()
        finally:
            ex.waiting = False

    def _progress(self, ex: _Exchange, conn: "_native.Connection") -> None:
        """Poll side: the connection wrote; wake a worker waiting for room."""
        ex.backlog = conn.send_len
        if ex.waiting:
            room = ex.room
            if room is not None:
                room.set()

    def _flush(self) -> None:
        """Poll side: queue the workers' output on the connections, and
        report what they read of streamed bodies."""
        consumed = self._consumed
        while consumed:
            ex, n = consumed.popleft()
            if not ex.gone:
                _body_stream.consumed(self._manager, ex.cid, n)
        done = self._done
        while done:
            ex, data, end = done.popleft()
            if ex.gone:
                continue
            conn = ex.conn
            try:
                if data is None:  # aborted after the head went out
                    conn.drain()
                    self._finish_exchange(ex)
                    continue
                if data or end:
                    conn._http_send(data, end)
                if data:
                    ex.moved += len(data)
                    ex.backlog = conn.send_len
                    if not end and ex.cid not in self._streams:  # its writes tell a worker about room
                        self._streams[ex.cid] = ex
                        self._watch_writes()
                    if ex.waiting:
                        room = ex.room
                        if room is not None:
                            room.set()
                if end:
                    self._finish_exchange(ex)
                    if ex.close or self._stopping:
                        conn.drain()
            except RuntimeError:  # closed meanwhile
                self._gone(ex)

    def _finish_exchange(self, ex: _Exchange) -> None:
        if self._streams.pop(ex.cid, None) is not None:
            self._watch_writes()
        st = self._conns.get(ex.cid)
        if st is not None and st.exchange is ex:
            st.exchange = None

    # -- worker side ---------------------------------------------------
    def _run_app(self, ex: _Exchange, env: Dict[str, Any]) -> None:
        result: Any = None
        try:
            result = self.app(env, ex.start_response)
            if type(result) is list and ex.status is not None and not ex.committed:
                ex.whole(result)
            else:
                self._pull(ex, iter(result), sys.maxsize)  # a worker waits for room in _post
                if ex.status is None:
                    raise AssertionError("application returned without calling start_response()")
                ex.finish()
        except _Gone:
            pass
        except Exception:
            if not ex.gone:
                self._app_error()
                try:
                    ex.fail()
                except _Gone:
                    pass
        finally:
            if result is not None:
                self._close_result(result)


def serve(app: Callable[..., Iterable[bytes]], url: str = "http://127.0.0.1:8000", *,
          workers: int = 4, root_path: str = "", log_level: str = "info",
          ssl_certfile: Optional[str] = None, ssl_keyfile: Optional[str] = None,
          reuse_port: bool = False, limits: Optional[Dict[str, int]] = None,
          graceful_timeout: float = 30, stream_timeout: float = 5.0) -> None:
    """Serve ``app`` on ``url`` until SIGINT/SIGTERM, then stop gracefully:
    the port is freed at once, requests in progress are answered (for up to
    ``graceful_timeout`` seconds), idle keep-alive connections close.

    ``workers``: application threads (0 runs the app on the poll thread);
    ``root_path``: mount point (``SCRIPT_NAME``); ``log_level``: critical,
    error, warning, info (the banner), debug, trace; ``ssl_certfile`` /
    ``ssl_keyfile``: PEM files, served as HTTPS; ``reuse_port``:
    SO_REUSEPORT (several processes on one port); ``limits``: ``Manager()``
    limit keywords (``max_body_size`` ...)."""
    server = WSGIServer(app, workers=workers, stream_timeout=stream_timeout, root_path=root_path,
                        limits=limits, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
                        log_level=log_level)
    try:
        conn = server.listen(url, reuse_port=reuse_port)
    except BaseException:
        server.close()
        raise
    ip, port, _ = conn.local_addr or ("?", 0, False)
    scheme = "https" if ssl_certfile else "http"
    if server.log_level <= 20:
        where = f"{workers} workers" if workers else "app on the poll thread"
        print(f"pymongoose WSGI server on {scheme}://{ip}:{port} ({where}); Ctrl+C to stop",
              flush=True)
    server.run(graceful_timeout=graceful_timeout)


if __name__ == "__main__":  # python -m pymongoose.wsgi module:app
    from ._cli import main_wsgi
    raise SystemExit(main_wsgi())
