"""The Manager class: owns connections and timers and runs the event loop."""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Any, Callable, Literal, Optional

from . import _mongoose as _native
from ._gopy import pybind as _go
from ._mqtt import MqttManagerMixin
from ._net import NetManagerMixin
from ._ws import WsManagerMixin

Handler = Callable[["_native.Connection", int, Any], None]

# Manager() keyword-only limits and their defaults, ((name, default), ...),
# as the engine defines them (pybind/limits.go over core.DefaultLimits).
LIMITS: "tuple[tuple[str, int], ...]" = _native._LIMITS
_DEFAULT = dict(LIMITS)

_FREED = "Manager has been freed"


def _check_limit(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"Argument '{name}' has incorrect type (expected int, got {type(value).__name__})")
    if value < 0:
        raise ValueError(f"Argument '{name}' must be a non-negative int, got {value}")
    return value


def _infer_http(url: str, http: Optional[bool]) -> bool:
    """``http=None``: the HTTP engine for http://, https://, ws:// and wss://
    URLs (any case); an explicit value wins (docs/api.md 19.1)."""
    if http is None:
        return url[:8].lower().startswith(("http://", "https://", "ws://", "wss://"))
    return bool(http)


def _check_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"Argument '{name}' has incorrect type (expected str, got {type(value).__name__})")
    return value


class Manager(WsManagerMixin, MqttManagerMixin, NetManagerMixin):
    """Event manager: owns listeners, connections and timers.

    Nothing happens in the background: all I/O, protocol parsing, timer
    callbacks and handler calls run inside :meth:`poll`, on the thread that
    calls it. ``handler(conn, ev, data)`` is the default event handler.
    """

    def __init__(
        self,
        handler: Optional[Handler] = None,
        enable_wakeup: bool = False,
        error_handler: Optional[Callable[[Exception], Any]] = None,
        *,
        max_recv_size: int = _DEFAULT["max_recv_size"],
        max_head_size: int = _DEFAULT["max_head_size"],
        max_headers: int = _DEFAULT["max_headers"],
        max_body_size: int = _DEFAULT["max_body_size"],
        max_message_size: int = _DEFAULT["max_message_size"],
        head_timeout_ms: int = _DEFAULT["head_timeout_ms"],
        stall_timeout_ms: int = _DEFAULT["stall_timeout_ms"],
        send_high_water: int = _DEFAULT["send_high_water"],
    ) -> None:
        _native._check_fork()
        given = locals()
        limits = [_check_limit(name, given[name]) for name, _ in LIMITS]
        self._core = _native._Core(handler)
        self._core.error_handler = error_handler
        try:
            self._mid = _go.NewManager(bool(enable_wakeup), *limits)
        except RuntimeError:
            if enable_wakeup:
                raise RuntimeError("Failed to initialize wakeup support") from None
            raise RuntimeError("Failed to create the Manager") from None
        self._core.attach(self._mid)
        self._wakeup_enabled = bool(enable_wakeup)
        self._wakeup_id = int(_go.WakeupID(self._mid)) if enable_wakeup else 0

    # -- helpers -------------------------------------------------------
    def _check(self) -> None:
        _native._check_fork()
        if self._core.freed or self._core.closing:
            raise RuntimeError(_FREED)

    def _conn(self, conn_id: int) -> "_native.Connection":
        try:
            return self._core.conn(conn_id)
        except RuntimeError:
            # closed from inside its own MG_EV_OPEN handler
            return _native.Connection()

    def _create(self, make: Callable[[], int], handler: Any, failure: str) -> "_native.Connection":
        core = self._core
        # The public method calling us (listen, connect, ws_connect ...) names
        # the call in the error raised when another thread is inside.
        core.enter(f"Manager.{sys._getframe(1).f_code.co_name}()")
        try:
            core.set_pending(handler)
            try:
                conn_id = make()
            except RuntimeError:
                core.raise_pending()
                raise RuntimeError(failure) from None
            finally:
                core.set_pending(None)
            core.raise_pending()
            return self._conn(conn_id)
        finally:
            core.leave()

    # -- public API ----------------------------------------------------
    @property
    def handler(self) -> Any:
        """The default event handler."""
        return self._core.handler

    @property
    def connections(self) -> tuple:
        """Snapshot of the live connections (listeners, accepted and
        outbound), in no particular order; () once closed."""
        return tuple(self._core.connections())

    @property
    def wakeup_id(self) -> int:
        """Id of the internal wakeup connection (0 without wakeup):
        ``wakeup(wakeup_id, b"")`` only interrupts a waiting poll()."""
        return self._wakeup_id

    def __enter__(self) -> "Manager":
        return self

    def __exit__(self, *exc: Any) -> Literal[False]:
        self.close()
        return False

    def run(self, poll_ms: int = 100) -> None:
        """poll(poll_ms) until SIGINT or SIGTERM, then close() (also when
        an exception ends the loop). Must be called from the main thread."""
        stop = []

        def on_signal(signum: int, frame: Any) -> None:
            stop.append(signum)

        previous = {}
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, on_signal)
            while not stop:
                self.poll(poll_ms)
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)
            self.close()

    def poll(self, timeout_ms: int = 0) -> None:
        """Run one iteration of the event loop, waiting up to ``timeout_ms``
        milliseconds for I/O (0: do not wait; negative: wait for I/O)."""
        self._core.poll(timeout_ms)

    def fileno(self) -> int:
        """The engine's event descriptor, for driving this Manager from
        another event loop (asyncio, uvloop, selectors): it is readable
        whenever ``poll(0)`` has I/O or a wakeup to process. Call
        ``poll(0)`` when it is readable and when :meth:`next_timeout_ms`
        says work is due. Valid until :meth:`close`, which closes it: a loop
        that may outlive the Manager should watch ``os.dup(fileno())``."""
        return self._core.fileno()

    def next_timeout_ms(self) -> int:
        """Milliseconds until the next timer or connection deadline needs a
        ``poll(0)``: 0 when work is pending now (for example output queued
        outside ``poll()``), -1 when only :meth:`fileno` turning readable
        can bring work."""
        return self._core.next_timeout()

    def listen(self, url: str, handler: Optional[Handler] = None, *, http: Optional[bool] = None,
               reuse_port: bool = False) -> "_native.Connection":
        """Listen on ``url`` (``tcp://``, ``http://``, ``udp://`` ...); port 0
        picks a free port. ``http=True`` parses HTTP on accepted connections
        (``None``: for http://, https://, ws:// and wss:// URLs), which start
        with this listener's handler. Raises RuntimeError when the address
        cannot be bound."""
        _check_str("url", url)
        self._check()
        use_http = _infer_http(url, http)
        return self._create(lambda: _go.Listen(self._mid, url, use_http, bool(reuse_port)),
                            handler, f"Failed to listen on '{url}'")

    def connect(self, url: str, handler: Optional[Handler] = None, *,
                http: Optional[bool] = None) -> "_native.Connection":
        """Start an outbound connection; the outcome arrives as events
        (MG_EV_CONNECT, or MG_EV_ERROR then MG_EV_CLOSE). ``http=None``
        parses responses for http://, https://, ws:// and wss:// URLs."""
        _check_str("url", url)
        self._check()
        use_http = _infer_http(url, http)
        return self._create(lambda: _go.Connect(self._mid, url, use_http),
                            handler, f"Failed to connect to '{url}'")

    def timer_add(self, milliseconds: int, callback: Callable[[], Any], *, repeat: bool = False,
                  run_now: bool = False) -> "_native.Timer":
        """Call ``callback()`` after ``milliseconds`` (every period with
        ``repeat=True``; also in the first poll with ``run_now=True``)."""
        if not isinstance(milliseconds, int):
            raise TypeError("Argument 'milliseconds' has incorrect type "
                            f"(expected int, got {type(milliseconds).__name__})")
        self._check()
        core = self._core
        core.enter("Manager.timer_add()")
        try:
            key, timer = core.timer_new(callback)
            try:
                _go.TimerAdd(self._mid, milliseconds, bool(repeat), bool(run_now), key)
            except RuntimeError:
                timer.cancel()
                raise RuntimeError("Failed to add timer") from None
            return timer
        finally:
            core.leave()

    def wakeup(self, connection_id: int, data: bytes = b"") -> bool:
        """Deliver MG_EV_WAKEUP with ``data`` to a connection in a later
        poll(). The only method that may be called from any thread."""
        if not isinstance(connection_id, int):
            raise TypeError("Argument 'connection_id' has incorrect type "
                            f"(expected int, got {type(connection_id).__name__})")
        if connection_id < 0:
            raise OverflowError("can't convert negative value to unsigned long")
        if connection_id > 0xFFFFFFFFFFFFFFFF:
            raise OverflowError("Python int too large to convert to C unsigned long")
        if type(data) is not bytes:
            raise TypeError(f"Argument 'data' has incorrect type (expected bytes, got {type(data).__name__})")
        self._check()
        if not self._wakeup_enabled or connection_id == 0:
            return False
        _native._wakeup(self._mid, connection_id, data)
        return True

    def close(self) -> None:
        """Close every connection (MG_EV_POLL then MG_EV_CLOSE, nothing
        flushed) and free the Manager. Idempotent, and safe from any thread.
        From a handler run by poll() the close happens at the end of that
        poll() (from one run by another call, at once); from another thread
        it interrupts the running poll() and waits for the thread inside the
        Manager to leave it."""
        _native._check_fork()
        core = self._core
        if core.freed:
            return
        if core.owner == threading.get_ident():
            # From a handler: the engine defers the close to the end of
            # poll(), or finishes the close already running.
            _go.CloseManager(self._mid)
            return
        # Set first: a poll() starting in another thread meanwhile refuses.
        core.closing = True
        try:
            while True:
                if core.freed:
                    return
                try:
                    core.enter("Manager.close()")
                    break
                except RuntimeError:
                    _go.Interrupt(self._mid)
                    time.sleep(0.001)
            try:
                _go.CloseManager(self._mid)
            finally:
                core.leave()
        finally:
            core.closing = False
        core.raise_pending()
