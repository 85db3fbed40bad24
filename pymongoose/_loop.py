"""Drive a :class:`Manager` from an asyncio event loop, on the loop's thread.

The loop watches the Manager's descriptor (:meth:`Manager.fileno`) with
``add_reader`` and calls ``poll(0)`` when it is readable, when
:meth:`Manager.next_timeout_ms` says a timer or deadline is due, and soon
after output was queued outside ``poll()`` (:meth:`LoopDriver.kick`).
Handlers therefore run on the loop's thread: they may create tasks and
resolve futures directly. Works with any loop that has ``add_reader``
(the default selector loop, uvloop).
"""

from __future__ import annotations

import asyncio
import os
from typing import Callable, Optional

from ._manager import Manager

__all__ = ["LoopDriver"]


class LoopDriver:
    """Polls ``manager`` from ``loop`` (default: the running loop).

    :meth:`start` registers the descriptor, :meth:`stop` removes it;
    neither closes the Manager. The driver stops by itself when the
    Manager is closed (also from a handler). ``KeyboardInterrupt`` and
    ``SystemExit`` raised by handlers propagate out of the loop's
    ``run_forever``/``asyncio.run``, as from ``poll()``. Any other exception
    out of ``poll()`` (handler exceptions never get there: they are reported
    by the Manager) stops the driver and goes to ``on_error`` when given,
    else it propagates to the loop's exception handler. ``after_poll()``,
    when given, runs after each successful ``poll(0)``.
    """

    __slots__ = ("_manager", "_loop", "_fd", "_soon", "_timer", "_in_poll", "_on_error", "_after_poll")

    def __init__(self, manager: Manager, loop: Optional[asyncio.AbstractEventLoop] = None,
                 on_error: Optional[Callable[[BaseException], None]] = None,
                 after_poll: Optional[Callable[[], None]] = None) -> None:
        self._manager = manager
        self._loop = loop if loop is not None else asyncio.get_running_loop()
        self._on_error = on_error
        self._after_poll = after_poll  # called after each poll(0), outside it
        self._fd = -1
        self._soon: Optional[asyncio.Handle] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._in_poll = False

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._fd >= 0

    @property
    def in_poll(self) -> bool:
        """True while a ``poll(0)`` of this driver runs (handlers see it)."""
        return self._in_poll

    def start(self) -> None:
        """Watch the Manager's descriptor and poll once soon."""
        if self._fd >= 0:
            return
        # Our own reference to the epoll instance: the loop's registration
        # stays valid even if a handler closes the Manager during poll().
        self._fd = os.dup(self._manager.fileno())
        self._loop.add_reader(self._fd, self._poll)
        self.kick()

    def kick(self) -> None:
        """Poll soon: call after queueing output outside ``poll()`` (a
        ``send()`` from a task). Free inside ``poll()``, whose end checks
        for pending work anyway."""
        if self._soon is None and not self._in_poll and self._fd >= 0:
            self._soon = self._loop.call_soon(self._poll)

    def stop(self) -> None:
        """Stop watching the Manager (idempotent; the Manager stays open)."""
        for handle in (self._soon, self._timer):
            if handle is not None:
                handle.cancel()
        self._soon = self._timer = None
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            self._loop.remove_reader(fd)
            os.close(fd)

    def _poll(self) -> None:
        self._soon = None
        if self._fd < 0:
            return
        self._in_poll = True
        try:
            self._manager.poll(0)
        except Exception as exc:
            if isinstance(exc, RuntimeError) and self._manager._core.freed:  # closed meanwhile
                self.stop()
                return
            if self._on_error is None:
                self._rearm()
                raise
            self.stop()
            self._on_error(exc)
            return
        except BaseException:
            self._rearm()
            raise
        finally:
            self._in_poll = False
        if self._after_poll is not None:
            self._after_poll()
        self._rearm()

    def _on_timer(self) -> None:
        self._timer = None
        self._poll()

    def _rearm(self) -> None:
        if self._fd < 0:
            return
        try:
            wait = self._manager.next_timeout_ms()
        except RuntimeError:  # closed by a handler during poll()
            self.stop()
            return
        if wait == 0:
            self.kick()
        elif wait > 0:
            when = self._loop.time() + wait / 1000
            timer = self._timer
            # An earlier timer is kept: deadlines move later with every
            # request, and one early poll(0) is cheaper than rescheduling.
            if timer is not None and timer.when() <= when:
                return
            if timer is not None:
                timer.cancel()
            self._timer = self._loop.call_at(when, self._on_timer)
