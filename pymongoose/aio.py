"""asyncio integration: :class:`AsyncManager` runs a Manager's poll loop on a
background thread so that asyncio programs can serve and connect without
blocking their event loop.

Typical use::

    import asyncio
    from pymongoose import AsyncManager, MG_EV_HTTP_MSG

    def handler(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            conn.reply(200, b"hello")

    async def main():
        async with AsyncManager(handler) as am:
            am.listen("http://127.0.0.1:8000")
            await asyncio.sleep(3600)

    asyncio.run(main())

Handlers run on the poll thread, not on the asyncio loop: use
:meth:`AsyncManager.schedule` to hand work (a coroutine or a callable) over
to the loop.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import traceback
import warnings
from typing import Any, Callable, Optional

from ._manager import Manager

__all__ = ["AsyncManager"]

_NOT_STARTED = "AsyncManager is not started"
_HTTP_SCHEMES = ("http://", "https://", "ws://", "wss://")


def _infer_http(url: str, http: Optional[bool]) -> bool:
    """``http=None`` means: parse HTTP when the URL scheme is http(s)/ws(s)."""
    if http is None:
        return isinstance(url, str) and url.lower().startswith(_HTTP_SCHEMES)
    return bool(http)


def _wakeup_id(manager: Manager) -> int:
    """Id of the Manager's internal wakeup connection (0 without one)."""
    wid = getattr(manager, "wakeup_id", None)
    if isinstance(wid, int):
        return wid
    from ._gopy import pybind as _go

    return int(_go.WakeupID(manager._mid))


def _new_manager(handler: Any, error_handler: Any) -> Manager:
    """A wakeup-enabled Manager; ``error_handler`` only when given."""
    if error_handler is not None:
        return Manager(handler, True, error_handler=error_handler)  # type: ignore[call-arg]
    return Manager(handler, True)


class AsyncManager:
    """A :class:`Manager` polled by a daemon thread, for asyncio programs.

    ``async with AsyncManager(handler) as am:`` creates
    ``Manager(handler, enable_wakeup=True)`` and starts a thread that calls
    ``poll(min(poll_interval, 200))`` in a loop while holding a re-entrant
    lock, pausing about 1 ms between polls so that other threads can take
    the lock. The creating methods (:meth:`listen`, :meth:`connect`, ...)
    interrupt the running poll through the wakeup channel, take the lock and
    delegate to the Manager, so they may be called from any thread,
    including from handlers. Leaving the block stops the thread (waiting at
    most ``shutdown_timeout`` seconds, with a ``RuntimeWarning`` every 5 s)
    and closes the Manager.
    """

    def __init__(
        self,
        handler: Optional[Callable[..., Any]] = None,
        poll_interval: int = 100,
        error_handler: Optional[Callable[[BaseException], Any]] = None,
        shutdown_timeout: float = 30,
    ) -> None:
        self._handler = handler
        self._poll_interval = int(poll_interval)
        self._error_handler = error_handler
        self._shutdown_timeout = float(shutdown_timeout)
        self._manager: Optional[Manager] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._wid = 0
        self._stopped_future: Optional[asyncio.Future] = None
        self.error: Optional[BaseException] = None

    # -- lifecycle -----------------------------------------------------
    async def __aenter__(self) -> "AsyncManager":
        if self._manager is not None:
            raise RuntimeError("AsyncManager is already started")
        loop = asyncio.get_running_loop()
        manager = _new_manager(self._handler, self._error_handler)
        self._loop = loop
        self._manager = manager
        self._wid = _wakeup_id(manager)
        self._stop.clear()
        self.error = None
        self._stopped_future = loop.create_future()
        self._thread = threading.Thread(target=self._run, name="pymongoose-aio-poll", daemon=True)
        self._thread.start()
        return self

    async def __aexit__(self, *exc: Any) -> bool:
        await self._shutdown()
        return False

    def _run(self) -> None:
        manager = self._manager
        assert manager is not None
        timeout = min(self._poll_interval, 200)
        try:
            while not self._stop.is_set():
                with self._lock:
                    if self._stop.is_set():
                        break
                    manager.poll(timeout)
                time.sleep(0.001)
        except BaseException as exc:  # noqa: BLE001 - the thread must end cleanly
            if not self._stop.is_set():
                self.error = exc
                print("pymongoose AsyncManager: poll thread stopped:", file=sys.stderr)
                traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        finally:
            fut, loop = self._stopped_future, self._loop
            if fut is not None and loop is not None:
                try:
                    loop.call_soon_threadsafe(_resolve, fut)
                except RuntimeError:  # loop already closed
                    pass

    def _interrupt(self) -> None:
        manager = self._manager
        if manager is None or not self._wid:
            return
        try:
            manager.wakeup(self._wid, b"")
        except RuntimeError:  # freed meanwhile
            pass

    async def _shutdown(self) -> None:
        manager, thread = self._manager, self._thread
        if manager is None or thread is None:
            return
        self._stop.set()
        self._interrupt()
        fut = self._stopped_future
        start = time.monotonic()
        while thread.is_alive():
            remaining = self._shutdown_timeout - (time.monotonic() - start)
            if remaining <= 0:
                warnings.warn(
                    f"AsyncManager poll thread did not stop within {self._shutdown_timeout:g} s; "
                    "abandoning it without closing the Manager",
                    RuntimeWarning,
                    stacklevel=3,
                )
                self._reset()
                return
            step = min(5.0, remaining)
            if fut is None or fut.done():
                # the thread has signalled its end and is about to finish
                await asyncio.sleep(0.001)
                continue
            try:
                await asyncio.wait_for(asyncio.shield(fut), step)
            except asyncio.TimeoutError:
                pass
            if thread.is_alive() and not fut.done():
                warnings.warn(
                    f"AsyncManager poll thread still running after "
                    f"{time.monotonic() - start:.1f} s; interrupting it again",
                    RuntimeWarning,
                    stacklevel=3,
                )
                self._interrupt()
        thread.join()
        try:
            manager.close()
        finally:
            self._reset()

    def _reset(self) -> None:
        self._manager = None
        self._thread = None
        self._stopped_future = None
        self._wid = 0

    # -- properties ----------------------------------------------------
    @property
    def manager(self) -> Manager:
        """The underlying :class:`Manager` (``RuntimeError`` when not started)."""
        if self._manager is None:
            raise RuntimeError(_NOT_STARTED)
        return self._manager

    @property
    def running(self) -> bool:
        """True while the poll thread is alive and not stopping."""
        t = self._thread
        return t is not None and t.is_alive() and not self._stop.is_set()

    @property
    def loop(self) -> Optional[asyncio.AbstractEventLoop]:
        """The asyncio loop the manager was started on (None before)."""
        return self._loop

    # -- delegation ----------------------------------------------------
    def _call(self, fn: Callable[[Manager], Any]) -> Any:
        manager = self._manager
        if manager is None:
            raise RuntimeError(_NOT_STARTED)
        thread = self._thread
        if thread is None or thread.ident != threading.get_ident():
            self._interrupt()
        with self._lock:
            return fn(manager)

    def listen(self, url: str, handler: Optional[Callable[..., Any]] = None, *,
               http: Optional[bool] = None) -> Any:
        """:meth:`Manager.listen` from any thread. ``http=None`` parses HTTP
        for ``http://``, ``https://``, ``ws://`` and ``wss://`` URLs."""
        flag = _infer_http(url, http)
        return self._call(lambda m: m.listen(url, handler, http=flag))

    def connect(self, url: str, handler: Optional[Callable[..., Any]] = None, *,
                http: Optional[bool] = None) -> Any:
        """:meth:`Manager.connect` from any thread (``http`` as in :meth:`listen`)."""
        flag = _infer_http(url, http)
        return self._call(lambda m: m.connect(url, handler, http=flag))

    def mqtt_connect(self, url: str, handler: Optional[Callable[..., Any]] = None,
                     **kwargs: Any) -> Any:
        """:meth:`Manager.mqtt_connect` from any thread."""
        return self._call(lambda m: m.mqtt_connect(url, handler, **kwargs))

    def mqtt_listen(self, url: str, handler: Optional[Callable[..., Any]] = None) -> Any:
        """:meth:`Manager.mqtt_listen` from any thread."""
        return self._call(lambda m: m.mqtt_listen(url, handler))

    def sntp_connect(self, url: str, handler: Optional[Callable[..., Any]] = None) -> Any:
        """:meth:`Manager.sntp_connect` from any thread."""
        return self._call(lambda m: m.sntp_connect(url, handler))

    def timer_add(self, milliseconds: int, callback: Callable[[], Any], *,
                  repeat: bool = False, run_now: bool = False) -> Any:
        """:meth:`Manager.timer_add` from any thread; the callback runs on
        the poll thread."""
        return self._call(lambda m: m.timer_add(milliseconds, callback, repeat=repeat,
                                                run_now=run_now))

    def wakeup(self, connection_id: int, data: bytes = b"") -> bool:
        """:meth:`Manager.wakeup` (thread-safe, no lock taken)."""
        manager = self._manager
        if manager is None:
            raise RuntimeError(_NOT_STARTED)
        return manager.wakeup(connection_id, data)

    def schedule(self, coro_or_callback: Any) -> None:
        """Hand work to the asyncio loop from any thread (typically from a
        handler): a coroutine is run with ``run_coroutine_threadsafe``, a
        plain callable with ``call_soon_threadsafe``."""
        loop = self._loop
        if loop is None or self._manager is None:
            raise RuntimeError(_NOT_STARTED)
        if asyncio.iscoroutine(coro_or_callback):
            asyncio.run_coroutine_threadsafe(coro_or_callback, loop)
        elif callable(coro_or_callback):
            loop.call_soon_threadsafe(coro_or_callback)
        else:
            raise TypeError(
                f"schedule() needs a coroutine or a callable, got {type(coro_or_callback).__name__}")


def _resolve(fut: "asyncio.Future[None]") -> None:
    if not fut.done():
        fut.set_result(None)
