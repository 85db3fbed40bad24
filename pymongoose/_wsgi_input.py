"""``wsgi.input`` of a request whose body streams (pymongoose.wsgi with
workers; see pymongoose/_body_stream.py).

The poll thread feeds the pieces the engine delivers; the application's
worker thread reads, blocking until enough has arrived or the body ended.
What the application took is reported back (through the server, on the poll
thread) so that the engine reads on: the buffer here holds at most about
the engine's window. A body that cannot end (the client went away, a limit
was broken) makes a read that needs more raise ``BodyIncomplete``.
"""

from __future__ import annotations

import threading
from typing import Callable, Iterator, List, Optional

from ._body_stream import failure

# Consumption is reported in batches of this much (and always before the
# reader waits, so the engine is never left waiting for a report).
_REPORT = 64 * 1024


class BodyInput:
    """A file-like, read-only request body: ``read``, ``readline``,
    ``readlines`` and iteration by lines, as PEP 3333 asks of
    ``wsgi.input``."""

    def __init__(self, report: Callable[[int], None]) -> None:
        self._report = report  # report(n): the application took n bytes (0: it asks)
        self._cond = threading.Condition(threading.Lock())
        self._buf = bytearray()
        self._status: Optional[int] = None  # None: more to come; 0: complete
        self._asked = False
        self._taken = 0  # taken and not reported yet

    # -- poll thread ------------------------------------------------------
    def feed(self, piece: bytes) -> None:
        """A piece of the body arrived."""
        with self._cond:
            self._buf += piece
            self._cond.notify()

    def end(self, status: int) -> None:
        """The body ended (0), or cannot end (a failure status)."""
        with self._cond:
            if self._status is None:
                self._status = status
            self._cond.notify()

    @property
    def buffered(self) -> int:
        """Bytes received and not read by the application yet."""
        return len(self._buf)

    # -- application (worker thread) ---------------------------------------
    def read(self, size: Optional[int] = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when negative or None):
        fewer only at the end of the body."""
        if size is None or size < 0:
            return self._take(-1, False)
        return self._take(int(size), False)

    def readline(self, size: Optional[int] = -1) -> bytes:
        """The next line, through its b"\\n" (at most ``size`` bytes)."""
        if size is None or size < 0:
            return self._take(-1, True)
        return self._take(int(size), True)

    def readlines(self, hint: int = -1) -> List[bytes]:
        """The remaining lines (stopping once ``hint`` bytes were read)."""
        lines: List[bytes] = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self) -> None:
        """Nothing to release (the server owns the connection)."""

    def _take(self, size: int, line: bool) -> bytes:
        """Move bytes from the buffer to the result until it has ``size``
        bytes (-1: all), a whole line (``line``), or the body ended."""
        if size == 0:
            return b""
        if not self._asked:
            self._asked = True
            self._report(0)  # the application reads: a pending 100 Continue goes out
        out: List[bytes] = []
        got = 0
        done = False
        cond = self._cond
        while True:
            with cond:
                buf = self._buf
                if buf:
                    n = len(buf) if size < 0 else min(len(buf), size - got)
                    if line:
                        nl = buf.find(b"\n", 0, n)
                        if nl >= 0:
                            n = nl + 1
                            done = True
                    out.append(bytes(buf[:n]))
                    del buf[:n]
                    got += n
                    self._taken += n
                done = done or got == size
                status = self._status
                ended = status is not None and not buf
            if done or ended:
                if self._taken >= _REPORT:
                    self._flush()
                if not done and status != 0:
                    raise failure(status)  # type: ignore[arg-type]
                return out[0] if len(out) == 1 else b"".join(out)
            self._flush()  # before waiting: the engine may wait for this room
            with cond:
                while not self._buf and self._status is None:
                    cond.wait()

    def _flush(self) -> None:
        taken, self._taken = self._taken, 0
        if taken:
            self._report(taken)
