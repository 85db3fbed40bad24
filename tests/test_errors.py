"""Exceptions from handlers, argument errors, signals, fork, closed objects
(API 2.4, 5.1, 13, 14, 15)."""

import inspect
import os
import signal
import socket
import threading
import time
import warnings

import pytest

import pymongoose
from pymongoose import (
    MG_EV_ACCEPT,
    MG_EV_CLOSE,
    MG_EV_HTTP_MSG,
    MG_EV_POLL,
    MG_EV_READ,
    Manager,
)

from conftest import (
    ResponseReader,
    connect,
    http_listen,
    poll_until,
    run_client,
    tcp_listen,
)

REENTRANT_MSG = (
    "poll() is not reentrant and must not be called concurrently. "
    "Use AsyncManager for multi-threaded access."
)


# --------------------------------------------------------------------------
# Exceptions raised by handlers and timer callbacks
# --------------------------------------------------------------------------


def test_handler_valueerror_prints_traceback_and_next_request_is_served(
        make_manager, recorder, capfd):
    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            if d.uri == "/boom":
                raise ValueError("boom-marker-1234")
            c.reply(200, b"fine")
            c.drain()

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)
    s = connect(port)
    try:
        s.sendall(b"GET /boom HTTP/1.1\r\n\r\n")
        poll_until(mgr, lambda: rec.has(MG_EV_HTTP_MSG))
        for _ in range(3):
            mgr.poll(0)
    finally:
        s.close()
    err = capfd.readouterr().err
    assert "Traceback (most recent call last):" in err
    assert "ValueError: boom-marker-1234" in err
    assert "in on" in err  # the handler's frame is in the traceback

    def client():
        s2 = connect(port)
        s2.sendall(b"GET /ok HTTP/1.1\r\n\r\n")
        r = ResponseReader(s2).read()
        s2.close()
        return r.status, r.body

    assert run_client(mgr, client) == (200, b"fine")


def test_timer_exception_printed_and_repeating_timer_continues(make_manager, capfd):
    mgr = make_manager()
    calls = []

    def cb():
        calls.append(1)
        raise RuntimeError("timer-failure-5678")

    mgr.timer_add(1, cb, repeat=True)
    poll_until(mgr, lambda: len(calls) >= 3)
    err = capfd.readouterr().err
    assert err.count("RuntimeError: timer-failure-5678") >= 3
    assert "Traceback (most recent call last):" in err


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_base_exceptions_in_handler_propagate_out_of_poll(make_manager, recorder, exc_type):
    raised = []

    def on(c, ev, d):
        if ev == MG_EV_READ and not raised:
            raised.append(1)
            raise exc_type()

    rec = recorder(on)
    mgr = make_manager()
    _, port = tcp_listen(mgr, rec)
    s = connect(port)
    try:
        s.sendall(b"x")
        with pytest.raises(exc_type):
            poll_until(mgr, lambda: False, timeout=10)
        # the Manager remains usable
        s.sendall(b"y")
        poll_until(mgr, lambda: rec.count(MG_EV_READ) >= 2)
    finally:
        s.close()


def test_custom_base_exception_in_timer_propagates(make_manager):
    class Stop(BaseException):
        pass

    mgr = make_manager()

    def cb():
        raise Stop()

    mgr.timer_add(1, cb)
    with pytest.raises(Stop):
        poll_until(mgr, lambda: False, timeout=10)
    mgr.poll(0)  # still usable


def test_close_then_keyboardinterrupt_in_handler_still_closes(make_manager, recorder):
    def on(c, ev, d):
        if ev == MG_EV_READ:
            c.close()
            raise KeyboardInterrupt

    rec = recorder(on)
    mgr = make_manager()
    _, port = tcp_listen(mgr, rec)
    s = connect(port)
    try:
        s.sendall(b"x")
        with pytest.raises(KeyboardInterrupt):
            poll_until(mgr, lambda: False, timeout=10)
        c = rec.conns_with(MG_EV_READ)[0]
        assert rec.count(MG_EV_CLOSE, c) == 1
        assert repr(c) == "<Connection closed>"
        s.settimeout(10)
        assert s.recv(10) == b""
    finally:
        s.close()


# --------------------------------------------------------------------------
# Ctrl+C
# --------------------------------------------------------------------------


def test_sigint_during_poll_raises_keyboardinterrupt_promptly(make_manager):
    mgr = make_manager()
    mgr.listen("tcp://127.0.0.1:0")
    main = threading.get_ident()
    entering = threading.Event()
    stop = threading.Event()

    def killer():
        entering.wait(10)
        # give the main thread time to be inside poll(5000)'s wait
        stop.wait(0.3)
        while not stop.is_set():
            signal.pthread_kill(main, signal.SIGINT)
            stop.wait(0.5)

    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    th = threading.Thread(target=killer, daemon=True)
    th.start()
    try:
        entering.set()
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            mgr.poll(5000)
        elapsed = time.monotonic() - t0
    finally:
        stop.set()
        th.join(5)
        signal.signal(signal.SIGINT, old)
    assert elapsed < 3.0, f"poll(5000) returned after {elapsed:.2f}s"
    mgr.poll(0)  # still usable


def test_sigint_via_os_kill_during_poll(make_manager):
    mgr = make_manager()
    entering = threading.Event()
    stop = threading.Event()

    def killer():
        entering.wait(10)
        stop.wait(0.3)
        if not stop.is_set():
            os.kill(os.getpid(), signal.SIGINT)

    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    th = threading.Thread(target=killer, daemon=True)
    th.start()
    try:
        entering.set()
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            mgr.poll(5000)
        elapsed = time.monotonic() - t0
    finally:
        stop.set()
        th.join(5)
        signal.signal(signal.SIGINT, old)
    assert elapsed < 3.0, f"poll(5000) returned after {elapsed:.2f}s"


# --------------------------------------------------------------------------
# Re-entrancy and concurrency
# --------------------------------------------------------------------------


def test_reentrant_poll_raises(make_manager, recorder):
    errors = []

    def on(c, ev, d):
        if ev == MG_EV_POLL and not errors:
            try:
                mgr.poll(0)
            except RuntimeError as exc:
                errors.append(str(exc))
            else:
                errors.append("no error")

    rec = recorder(on)
    mgr = make_manager()
    mgr.listen("tcp://127.0.0.1:0", rec)
    mgr.poll(0)
    assert errors == [REENTRANT_MSG]
    mgr.poll(0)


def test_concurrent_poll_from_other_thread_raises(make_manager, recorder):
    result = []

    def other():
        try:
            mgr.poll(0)
            result.append("no error")
        except RuntimeError as exc:
            result.append(str(exc))

    def on(c, ev, d):
        if ev == MG_EV_POLL and not result:
            th = threading.Thread(target=other, daemon=True)
            th.start()
            th.join(5)
            if th.is_alive():
                result.append("blocked")

    rec = recorder(on)
    mgr = make_manager()
    mgr.listen("tcp://127.0.0.1:0", rec)
    mgr.poll(0)
    assert result == [REENTRANT_MSG]


def test_manager_close_from_other_thread_while_polling(make_manager):
    mgr = make_manager()
    mgr.listen("tcp://127.0.0.1:0")
    started = threading.Event()
    errors = []

    def closer():
        started.wait(10)
        time.sleep(0.2)  # the main thread is (almost surely) blocked in poll(1000)
        try:
            mgr.close()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    th = threading.Thread(target=closer, daemon=True)
    th.start()
    started.set()
    deadline = time.monotonic() + 10
    with pytest.raises(RuntimeError, match="Manager has been freed"):
        while time.monotonic() < deadline:
            mgr.poll(1000)
    th.join(10)
    assert errors == []


# --------------------------------------------------------------------------
# Closed objects
# --------------------------------------------------------------------------


def test_poll_after_manager_close(make_manager):
    mgr = make_manager()
    mgr.close()
    with pytest.raises(RuntimeError) as ei:
        mgr.poll(0)
    assert str(ei.value) == "Manager has been freed"


def test_closed_connection_methods(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    lst, _ = tcp_listen(mgr, rec)
    lst.close()
    for call in (lambda: lst.send(b"x"), lambda: lst.reply(200, b"x"),
                 lambda: lst.error("x")):
        with pytest.raises(RuntimeError) as ei:
            call()
        assert str(ei.value) == "Connection has been closed"
    lst.close()
    lst.drain()
    assert lst.recv_data() == b"" and lst.send_data() == b""
    # argument validation happens before the closed check
    with pytest.raises(TypeError):
        lst.send(None)
    with pytest.raises(TypeError):
        lst.reply("200")


# --------------------------------------------------------------------------
# Wrong argument types: TypeError with a message, never a crash
# --------------------------------------------------------------------------


def _type_error_calls(mgr, conn):
    return {
        "poll-str": lambda: mgr.poll("10"),
        "listen-bytes": lambda: mgr.listen(b"tcp://127.0.0.1:0"),
        "listen-none": lambda: mgr.listen(None),
        "connect-int": lambda: mgr.connect(123),
        "timer-ms-str": lambda: mgr.timer_add("10", lambda: None),
        "recv_data-str": lambda: conn.recv_data("1"),
        "send_data-str": lambda: conn.send_data("1"),
        "send-none": lambda: conn.send(None),
        "reply-code-str": lambda: conn.reply("200"),
        "error-bytes": lambda: conn.error(b"x"),
    }


def test_wrong_argument_types_raise_typeerror_with_message(make_manager, recorder):
    rec = recorder()
    mgr = make_manager(None, True)
    _, port = tcp_listen(mgr, rec)
    s = connect(port)
    try:
        poll_until(mgr, lambda: rec.has(MG_EV_ACCEPT))
        conn = rec.conns_with(MG_EV_ACCEPT)[0]
        failures = {}
        for name, call in _type_error_calls(mgr, conn).items():
            try:
                call()
                failures[name] = "no exception"
            except TypeError as exc:
                if not str(exc):
                    failures[name] = "empty message"
            except Exception as exc:  # noqa: BLE001
                failures[name] = f"{type(exc).__name__}: {exc}"
        assert failures == {}
        assert conn.id > 0  # nothing was harmed
    finally:
        s.close()


@pytest.mark.parametrize("kw", [
    "max_recv_size", "max_head_size", "max_headers", "max_body_size",
    "max_message_size", "head_timeout_ms", "stall_timeout_ms", "send_high_water",
])
def test_limit_keywords_validation(make_manager, kw):
    with pytest.raises(TypeError) as ei:
        Manager(**{kw: "10"})
    assert str(ei.value)
    with pytest.raises(TypeError):
        Manager(**{kw: 1.5})
    with pytest.raises(ValueError) as ei:
        Manager(**{kw: -1})
    assert str(ei.value)
    make_manager(**{kw: 0})
    make_manager(**{kw: 12345})


def test_limit_keywords_reach_their_engine_limit(make_manager):
    """Each limit keyword sets its own engine limit and no other: the names
    and defaults the module publishes, Manager()'s signature and the order
    of the engine's parameters agree."""
    from pymongoose._gopy import pybind as go

    limits = pymongoose._mongoose._LIMITS
    assert [name for name, _ in limits] == [
        "max_recv_size", "max_head_size", "max_headers", "max_body_size",
        "max_message_size", "head_timeout_ms", "stall_timeout_ms", "send_high_water",
    ]
    defaults = dict(limits)
    params = inspect.signature(Manager).parameters
    assert {name: params[name].default for name in defaults} == defaults
    for name, default in limits:
        mgr = make_manager(**{name: default + 7})
        got = dict(kv.split("=") for kv in go.DebugLimits(mgr._mid).split())
        assert {k: int(v) for k, v in got.items()} == {**defaults, name: default + 7}


def test_manager_keywords(make_manager, recorder):
    rec = recorder()
    mgr = make_manager(handler=rec, enable_wakeup=True)
    lst = mgr.listen("tcp://127.0.0.1:0")
    assert rec.seq(lst) == [pymongoose.MG_EV_OPEN]
    assert lst.id == 2


def test_listen_failure_message(make_manager):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    mgr = make_manager()
    url = f"tcp://127.0.0.1:{port}"
    try:
        with pytest.raises(RuntimeError) as ei:
            mgr.listen(url)
        assert str(ei.value) == f"Failed to listen on '{url}'"
    finally:
        blocker.close()


def test_connect_empty_url(make_manager):
    mgr = make_manager()
    with pytest.raises(RuntimeError) as ei:
        mgr.connect("")
    assert str(ei.value) == "Failed to connect to ''"


# --------------------------------------------------------------------------
# fork() without exec
# --------------------------------------------------------------------------


def _in_forked_child(fn):
    """Run ``fn()`` in a forked child; return the text it reported."""
    r, w = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(r)
            try:
                out = "ok:" + repr(fn())
            except BaseException as exc:  # noqa: BLE001
                out = f"{type(exc).__name__}:{exc}"
            os.write(w, out.encode("utf-8", "replace"))
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return b"".join(chunks).decode(), status


def _assert_fork_error(text):
    kind, _, msg = text.partition(":")
    assert kind == "RuntimeError", text
    assert "spawn" in msg and "forkserver" in msg, msg


def test_forked_child_creating_a_manager_gets_runtimeerror(make_manager):
    make_manager().listen("tcp://127.0.0.1:0")  # the engine is running in the parent
    text, status = _in_forked_child(lambda: Manager())
    assert os.WIFEXITED(status), "the child crashed"
    _assert_fork_error(text)
    # the parent is unaffected
    mgr = make_manager()
    mgr.listen("tcp://127.0.0.1:0")
    mgr.poll(0)


def test_forked_child_using_inherited_manager_gets_runtimeerror(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    lst, port = tcp_listen(mgr, rec)
    for fn in (lambda: mgr.poll(0), lambda: mgr.listen("tcp://127.0.0.1:0"),
               lambda: lst.send(b"x")):
        text, status = _in_forked_child(fn)
        assert os.WIFEXITED(status), "the child crashed"
        _assert_fork_error(text)
    # parent still serves
    s = connect(port)
    try:
        poll_until(mgr, lambda: rec.has(MG_EV_ACCEPT))
    finally:
        s.close()
