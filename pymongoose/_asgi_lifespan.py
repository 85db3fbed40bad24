"""The ASGI lifespan protocol for :mod:`pymongoose.asgi` (startup and
shutdown events, ``state`` shared with every request scope)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Optional

logger = logging.getLogger("pymongoose.asgi")

_MODES = ("auto", "on", "off")


class LifespanFailed(RuntimeError):
    """The application reported ``lifespan.startup.failed`` (or raised during
    startup with ``lifespan="on"``)."""


class Lifespan:
    """Runs ``app`` with a lifespan scope. ``mode``: ``"auto"`` tolerates
    an application without lifespan support (it raises before answering
    startup), ``"on"`` requires it, ``"off"`` never calls the app for it."""

    def __init__(self, app: Any, state: Dict[str, Any], mode: str = "auto") -> None:
        if mode not in _MODES:
            raise ValueError(f"lifespan must be one of {', '.join(_MODES)}, got {mode!r}")
        self.app = app
        self.state = state
        self.mode = mode
        self.supported = False
        self._task: "Optional[asyncio.Task[None]]" = None
        self._inbox: "Optional[asyncio.Queue[Dict[str, Any]]]" = None
        self._answer: "Optional[asyncio.Future[Dict[str, Any]]]" = None
        self._error: Optional[BaseException] = None

    async def startup(self) -> None:
        """Send ``lifespan.startup`` and wait for the answer. Raises
        :class:`LifespanFailed` when the startup failed."""
        if self.mode == "off":
            return
        loop = asyncio.get_running_loop()
        self._inbox = asyncio.Queue()
        self._answer = loop.create_future()
        self._task = loop.create_task(self._run())
        await self._inbox.put({"type": "lifespan.startup"})
        message = await self._answer
        mtype = message["type"]
        if mtype == "lifespan.startup.complete":
            self.supported = True
            return
        if mtype == "lifespan.startup.failed":
            text = message.get("message", "")
            logger.error("ASGI lifespan startup failed: %s", text)
            raise LifespanFailed(f"ASGI lifespan startup failed: {text}")
        # the application ended (or raised) before answering
        if self.mode == "on":
            raise LifespanFailed(f"ASGI lifespan startup failed: {self._error!r}")
        logger.info("ASGI 'lifespan' protocol appears unsupported.")

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait for the answer (the failure is
        logged: the server stops anyway)."""
        task, self._task = self._task, None
        if task is None:
            return
        if self.supported and not task.done():
            loop = asyncio.get_running_loop()
            self._answer = loop.create_future()
            assert self._inbox is not None
            await self._inbox.put({"type": "lifespan.shutdown"})
            message = await self._answer
            if message["type"] == "lifespan.shutdown.failed":
                logger.error("ASGI lifespan shutdown failed: %s", message.get("message", ""))
        if not task.done():
            task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                 "state": self.state}
        try:
            await self.app(scope, self._receive, self._send)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - reported below
            self._error = exc
            if self.supported or self.mode == "on":
                logger.error("Exception in 'lifespan' protocol", exc_info=exc)
        finally:
            self._reply({"type": "lifespan.ended"})

    async def _receive(self) -> Dict[str, Any]:
        assert self._inbox is not None
        return await self._inbox.get()

    async def _send(self, message: Dict[str, Any]) -> None:
        if not message["type"].startswith("lifespan."):
            raise RuntimeError(f"Unexpected ASGI message {message['type']!r} for lifespan")
        self._reply(message)

    def _reply(self, message: Dict[str, Any]) -> None:
        fut = self._answer
        if fut is not None and not fut.done():
            fut.set_result(message)
