"""asyncio integration: :class:`AsyncManager` drives a Manager from the
asyncio event loop, on the loop's own thread (no poll thread, no lock).

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

The loop watches the Manager's descriptor and calls ``poll(0)`` when it has
work (see :class:`pymongoose._loop.LoopDriver`), so handlers and timer
callbacks run on the loop's thread: they may create tasks, resolve futures
and await nothing. A handler that blocks blocks the loop, like any asyncio
callback. Methods called from another thread are run on the loop's thread
and their result is returned to the caller.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import threading
import traceback
import warnings
from typing import Any, Callable, Optional, Set

from ._loop import LoopDriver
from ._manager import Manager

__all__ = ["AsyncManager"]

_NOT_STARTED = "AsyncManager is not started"


def _new_manager(handler: Any, error_handler: Any, **limits: Any) -> Manager:
    """A wakeup-enabled Manager; ``error_handler`` only when given."""
    if error_handler is not None:
        return Manager(handler, True, error_handler=error_handler, **limits)
    return Manager(handler, True, **limits)


class AsyncManager:
    """A :class:`Manager` driven by the running asyncio loop.

    ``async with AsyncManager(handler) as am:`` creates
    ``Manager(handler, enable_wakeup=True)`` and registers its descriptor
    with the loop: handlers and timer callbacks run on the loop's thread.
    The creating methods (:meth:`listen`, :meth:`connect`, ...) may be called
    from the loop's thread (handlers included) or from any other thread: from
    another thread the call is run on the loop's thread and the caller waits
    for its result (``RuntimeError`` when the loop is not running).

    Leaving the block waits at most ``shutdown_timeout`` seconds for the
    coroutines started by :meth:`schedule` (then cancels the rest with a
    ``RuntimeWarning``), stops watching the Manager and closes it.
    ``poll_interval`` is accepted for compatibility and unused: the loop
    polls exactly when the Manager has work. ``error`` is the exception
    that stopped polling (printed to stderr), else None.
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
        self._driver: Optional[LoopDriver] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread_id = 0
        self._tasks: Set["asyncio.Task[Any]"] = set()
        self.error: Optional[BaseException] = None

    # -- lifecycle -----------------------------------------------------
    async def __aenter__(self) -> "AsyncManager":
        if self._manager is not None:
            raise RuntimeError("AsyncManager is already started")
        loop = asyncio.get_running_loop()
        manager = _new_manager(self._handler, self._error_handler)
        self._loop = loop
        self._thread_id = threading.get_ident()
        self._manager = manager
        self.error = None
        self._driver = LoopDriver(manager, loop, on_error=self._on_poll_error)
        self._driver.start()
        return self

    async def __aexit__(self, *exc: Any) -> bool:
        await self._shutdown()
        return False

    def _on_poll_error(self, exc: BaseException) -> None:
        self.error = exc
        print("pymongoose AsyncManager: polling stopped:", file=sys.stderr)
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)

    async def _shutdown(self) -> None:
        manager, driver = self._manager, self._driver
        if manager is None or driver is None:
            return
        tasks = [t for t in self._tasks if not t.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self._shutdown_timeout)
            if pending:
                warnings.warn(
                    f"AsyncManager: {len(pending)} scheduled coroutine(s) still running after "
                    f"{self._shutdown_timeout:g} s; cancelling them",
                    RuntimeWarning,
                    stacklevel=3,
                )
                for t in pending:
                    t.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        driver.stop()
        self._manager = None
        self._driver = None
        manager.close()

    # -- properties ----------------------------------------------------
    @property
    def manager(self) -> Manager:
        """The underlying :class:`Manager` (``RuntimeError`` when not started)."""
        if self._manager is None:
            raise RuntimeError(_NOT_STARTED)
        return self._manager

    @property
    def running(self) -> bool:
        """True while the loop is polling the Manager."""
        driver = self._driver
        return driver is not None and driver.running

    @property
    def loop(self) -> Optional[asyncio.AbstractEventLoop]:
        """The asyncio loop the manager was started on (None before)."""
        return self._loop

    # -- delegation ----------------------------------------------------
    def _call(self, fn: Callable[[Manager], Any]) -> Any:
        manager, loop, driver = self._manager, self._loop, self._driver
        if manager is None or loop is None or driver is None:
            raise RuntimeError(_NOT_STARTED)
        if threading.get_ident() == self._thread_id:
            result = fn(manager)
            driver.kick()  # new timers, queued output: rearm outside poll()
            return result
        if not loop.is_running():
            raise RuntimeError("AsyncManager: the asyncio loop is not running")
        done: "concurrent.futures.Future[Any]" = concurrent.futures.Future()

        def on_loop() -> None:
            try:
                if self._manager is not manager:
                    raise RuntimeError(_NOT_STARTED)
                done.set_result(self._call(fn))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                done.set_exception(exc)

        loop.call_soon_threadsafe(on_loop)
        return done.result()

    def listen(self, url: str, handler: Optional[Callable[..., Any]] = None, *,
               http: Optional[bool] = None) -> Any:
        """:meth:`Manager.listen` (any thread). ``http=None`` parses HTTP for
        ``http://``, ``https://``, ``ws://`` and ``wss://`` URLs."""
        return self._call(lambda m: m.listen(url, handler, http=http))

    def connect(self, url: str, handler: Optional[Callable[..., Any]] = None, *,
                http: Optional[bool] = None) -> Any:
        """:meth:`Manager.connect` (any thread; ``http`` as in :meth:`listen`)."""
        return self._call(lambda m: m.connect(url, handler, http=http))

    def mqtt_connect(self, url: str, handler: Optional[Callable[..., Any]] = None,
                     **kwargs: Any) -> Any:
        """:meth:`Manager.mqtt_connect` (any thread)."""
        return self._call(lambda m: m.mqtt_connect(url, handler, **kwargs))

    def mqtt_listen(self, url: str, handler: Optional[Callable[..., Any]] = None) -> Any:
        """:meth:`Manager.mqtt_listen` (any thread)."""
        return self._call(lambda m: m.mqtt_listen(url, handler))

    def sntp_connect(self, url: str, handler: Optional[Callable[..., Any]] = None) -> Any:
        """:meth:`Manager.sntp_connect` (any thread)."""
        return self._call(lambda m: m.sntp_connect(url, handler))

    def timer_add(self, milliseconds: int, callback: Callable[[], Any], *,
                  repeat: bool = False, run_now: bool = False) -> Any:
        """:meth:`Manager.timer_add` (any thread); the callback runs on the
        loop's thread."""
        return self._call(lambda m: m.timer_add(milliseconds, callback, repeat=repeat,
                                                run_now=run_now))

    def wakeup(self, connection_id: int, data: bytes = b"") -> bool:
        """:meth:`Manager.wakeup` (thread-safe; runs on the caller's thread)."""
        manager = self._manager
        if manager is None:
            raise RuntimeError(_NOT_STARTED)
        return manager.wakeup(connection_id, data)

    def schedule(self, coro_or_callback: Any) -> None:
        """Run a coroutine (as a task) or a plain callable on the loop, from
        any thread. Handlers already run on the loop's thread; this stays for
        code that runs elsewhere and for compatibility."""
        loop = self._loop
        if loop is None or self._manager is None:
            raise RuntimeError(_NOT_STARTED)
        if asyncio.iscoroutine(coro_or_callback):
            if threading.get_ident() == self._thread_id:
                self._track(coro_or_callback)
            else:
                loop.call_soon_threadsafe(self._track, coro_or_callback)
        elif callable(coro_or_callback):
            if threading.get_ident() == self._thread_id:
                loop.call_soon(coro_or_callback)
            else:
                loop.call_soon_threadsafe(coro_or_callback)
        else:
            raise TypeError(
                f"schedule() needs a coroutine or a callable, got {type(coro_or_callback).__name__}")

    def _track(self, coro: Any) -> None:
        assert self._loop is not None
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
