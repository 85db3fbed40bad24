"""Shared harness for the pymongoose test suite.

Everything runs on loopback with real sockets.  The test thread drives
``Manager.poll()`` while clients run in background threads (or use
non-blocking sockets); nothing waits with ``time.sleep``.
"""

import contextlib
import faulthandler
import os
import shutil
import subprocess
import socket
import threading
import time

import pytest

import pymongoose
from pymongoose import (
    MG_EV_CLOSE,
    MG_EV_POLL,
    Manager,
)

EV_NAMES = {
    getattr(pymongoose, name): name
    for name in dir(pymongoose)
    if name.startswith("MG_EV_")
}

# Timeout (seconds) for anything a test waits for.
WAIT = 10.0

# Hard per-test limit: a hung engine must not hang the whole run.  On expiry
# the tracebacks of all threads are dumped and the process exits.
HARD_LIMIT = float(os.environ.get("PYMONGOOSE_TEST_HARD_LIMIT", "180"))


@pytest.fixture(autouse=True)
def _watchdog():
    faulthandler.dump_traceback_later(HARD_LIMIT, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def ev_name(ev):
    return EV_NAMES.get(ev, str(ev))


def poll_until(mgr, cond, timeout=WAIT, step=10, what=None, before_poll=None):
    """Poll ``mgr`` (``poll(step)``) until ``cond()`` is true.

    Fails the test when ``timeout`` seconds pass first.  Returns the number
    of poll() calls made.  ``before_poll`` is called before each poll().
    """
    deadline = time.monotonic() + timeout
    n = 0
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or cond}")
        if before_poll is not None:
            before_poll()
        mgr.poll(step)
        n += 1
    return n


def poll_for(mgr, count, step=10):
    """Run exactly ``count`` polls (used to let time pass for 'nothing happens')."""
    for _ in range(count):
        mgr.poll(step)


# --------------------------------------------------------------------------
# Event recording
# --------------------------------------------------------------------------


class Recorder:
    """A handler that records every event and optionally calls ``on``.

    ``events`` holds ``(conn, ev, data)`` tuples.  ``data`` is stored as
    delivered except for message views, which are summarised (they are only
    valid during the call).  ``AssertionError`` raised by ``on`` is stored
    in ``errors`` so that the test can fail on it (the engine would only
    print it).
    """

    def __init__(self, on=None, name="rec"):
        self.on = on
        self.name = name
        self.events = []
        self.errors = []
        self.poll_no = 0  # may be bumped by tests to tag events

    def __call__(self, conn, ev, data):
        stored = data
        if ev in (10, 11, 12):  # HTTP_HDRS, HTTP_MSG, WS_OPEN
            try:
                stored = ("http", data.method, data.uri, bytes(data.body_bytes))
            except Exception as exc:  # pragma: no cover - diagnostic only
                stored = ("http-error", repr(exc))
        self.events.append((conn, ev, stored))
        if self.on is not None:
            try:
                self.on(conn, ev, data)
            except AssertionError as exc:
                self.errors.append(exc)
                raise

    def seq(self, conn, skip=(MG_EV_POLL,)):
        """Event codes delivered for ``conn`` (POLL skipped by default)."""
        return [e for c, e, _ in self.events if c is conn and e not in skip]

    def names(self, conn, skip=(MG_EV_POLL,)):
        return [ev_name(e) for e in self.seq(conn, skip)]

    def conns_with(self, ev):
        out = []
        for c, e, _ in self.events:
            if e == ev and not any(c is o for o in out):
                out.append(c)
        return out

    def count(self, ev, conn=None):
        return sum(
            1 for c, e, _ in self.events if e == ev and (conn is None or c is conn)
        )

    def has(self, ev, conn=None):
        return self.count(ev, conn) > 0

    def data_of(self, ev, conn=None):
        return [d for c, e, d in self.events if e == ev and (conn is None or c is conn)]

    def check(self):
        """Invariants that hold for every connection in every test."""
        assert not self.errors, f"assertion in handler: {self.errors[0]!r}"
        closed = []
        for c, e, _ in self.events:
            if any(c is o for o in closed):
                pytest.fail(f"event {ev_name(e)} delivered after MG_EV_CLOSE")
            if e == MG_EV_CLOSE:
                closed.append(c)


@pytest.fixture
def recorder():
    """Factory of Recorders whose invariants are checked at teardown."""
    made = []

    def make(on=None, name="rec"):
        r = Recorder(on, name)
        made.append(r)
        return r

    yield make
    for r in made:
        r.check()


@pytest.fixture
def make_manager():
    """Factory of Managers; every Manager is closed at teardown."""
    made = []

    def make(*args, **kwargs):
        m = Manager(*args, **kwargs)
        made.append(m)
        return m

    yield make
    for m in made:
        try:
            m.close()
        except Exception:
            pass


# --------------------------------------------------------------------------
# Servers and clients
# --------------------------------------------------------------------------


def http_listen(mgr, handler, host="127.0.0.1"):
    """HTTP listener on an OS-assigned port; returns (listener, port)."""
    lst = mgr.listen(f"http://{host}:0", handler, http=True)
    return lst, lst.local_addr[1]


def tcp_listen(mgr, handler, host="127.0.0.1"):
    lst = mgr.listen(f"tcp://{host}:0", handler)
    return lst, lst.local_addr[1]


class Client(threading.Thread):
    """Runs ``fn(*args)`` in a daemon thread and keeps its result/exception."""

    def __init__(self, fn, *args):
        super().__init__(daemon=True)
        self.fn = fn
        self.args = args
        self.value = None
        self.exc = None
        self.finished = threading.Event()
        self.start()

    def run(self):
        try:
            self.value = self.fn(*self.args)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            self.exc = exc
        finally:
            self.finished.set()

    @property
    def done(self):
        return self.finished.is_set()

    def result(self):
        assert self.done, "client thread still running"
        if self.exc is not None:
            raise self.exc
        return self.value


def run_client(mgr, fn, *args, timeout=WAIT):
    """Start ``fn`` in a thread, poll until it finishes, return its result."""
    cl = Client(fn, *args)
    poll_until(mgr, lambda: cl.done, timeout=timeout, what="client thread")
    return cl.result()


def connect(port, host="127.0.0.1", family=socket.AF_INET, timeout=WAIT):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def recv_all(sock, limit=None):
    """Read until EOF; returns the bytes.  Raises on reset/timeout."""
    buf = bytearray()
    chunk = bytearray(1 << 20)
    view = memoryview(chunk)
    while True:
        n = sock.recv_into(view)
        if n == 0:
            return bytes(buf)
        buf += view[:n]
        if limit is not None and len(buf) > limit:
            raise AssertionError(f"more than {limit} bytes received")


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(1 << 20, n - len(buf)))
        if not chunk:
            raise EOFError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


class Response:
    def __init__(self, head, status, reason, headers, body, raw):
        self.head = head
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.body = body
        self.raw = raw

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class ResponseReader:
    """Incremental parser of Content-Length framed responses on a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("EOF while reading a response")
        self.buf += chunk

    def read(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        end = self.buf.index(b"\r\n\r\n") + 4
        head = bytes(self.buf[:end])
        lines = head[:-4].split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        status = int(parts[1])
        reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
        headers = []
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers.append((k.decode("latin-1"), v.strip().decode("latin-1")))
            if k.lower() == b"content-length":
                length = int(v.strip())
        while len(self.buf) < end + length:
            self._fill()
        body = bytes(self.buf[end:end + length])
        raw = bytes(self.buf[:end + length])
        del self.buf[:end + length]
        return Response(head, status, reason, headers, body, raw)

    def at_eof(self):
        """True if the peer closed cleanly with nothing more buffered."""
        if self.buf:
            return False
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            return True
        if chunk:
            self.buf += chunk
            return False
        return True


def content_length_line(n):
    """The padded Content-Length line that reply() writes (API 5.8)."""
    return b"Content-Length: " + str(n).encode().ljust(10) + b" \r\n"


def reply_bytes(code, reason, body=b"", headers=None):
    """The exact bytes reply(code, body, headers) queues (API 5.8)."""
    if headers is None:
        hl = b"Content-Type: text/plain\r\n"
    else:
        hl = b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items())
    return (
        f"HTTP/1.1 {code} {reason}\r\n".encode()
        + hl
        + content_length_line(len(body))
        + b"\r\n"
        + body
    )


def free_refused_port():
    """A loopback port on which nobody listens (connect is refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def assert_same_bytes(got, expected, what="data"):
    """Compare possibly huge byte strings without a huge diff."""
    if got == expected:
        return
    n = min(len(got), len(expected))
    base = 0
    while base < n and got[base:base + 65536] == expected[base:base + 65536]:
        base += 65536
    first = next((i for i in range(base, min(n, base + 65536)) if got[i] != expected[i]), n)
    pytest.fail(
        f"{what} differs: got {len(got)} bytes, expected {len(expected)}; "
        f"first difference at offset {first}: "
        f"got {bytes(got[first:first + 24])!r} expected {bytes(expected[first:first + 24])!r}"
    )


# A skipped test is not a passed one. Where the machine is fully provisioned
# (CI sets PYMONGOOSE_NO_SKIP=1 after installing every peer) a skip is a failure.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and os.environ.get("PYMONGOOSE_NO_SKIP") == "1" and not hasattr(rep, "wasxfail"):
        rep.outcome = "failed"
        rep.longrepr = f"skipped where every peer should be installed: {rep.longrepr}"


def threads_started_since(before):
    """The live threads that were not in `before` (a set from
    threading.enumerate()). Comparing counts would be wrong: a thread an
    earlier test left finishing may end in between and hide a new one."""
    return [t for t in threading.enumerate() if t not in before and t.is_alive()]


def free_port():
    """A loopback port that was free a moment ago (for peers that need one up front)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@contextlib.contextmanager
def mosquitto_broker(directory, *conf_lines):
    """Runs mosquitto on 127.0.0.1:<free port> with extra config lines and
    yields the port. Readiness is read from its log, not waited for with
    sleeps; the log keeps being read so the broker never blocks on a pipe."""
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed")
    port = free_port()
    conf = directory / "mosquitto.conf"
    conf.write_text("\n".join([
        f"listener {port} 127.0.0.1", *conf_lines, "persistence false", "log_dest stderr",
        "log_type error", "log_type warning", "log_type notice", "log_type information",
        "user root",  # lets a root broker read pytest's temp files
    ]) + "\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    log = []
    try:
        for line in proc.stderr:
            log.append(line)
            if " running" in line:
                break
        else:
            pytest.fail("mosquitto did not start:\n" + "".join(log))
        threading.Thread(target=lambda: [log.append(x) for x in proc.stderr], daemon=True).start()
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
