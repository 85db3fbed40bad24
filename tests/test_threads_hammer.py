"""Threads: wakeup() hammered from many threads, re-entrant and concurrent
poll(), Manager.close() from a handler and from another thread."""

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from pymongoose import (
    MG_EV_ACCEPT,
    MG_EV_CLOSE,
    MG_EV_HTTP_MSG,
    MG_EV_POLL,
    MG_EV_READ,
    MG_EV_WAKEUP,
    Manager,
)

from conftest import Client, connect, http_listen, poll_until, tcp_listen


def test_wakeup_hammered_from_8_threads_while_conns_close(make_manager):
    """8 threads wake up a rotating set of connections while the poll thread
    keeps opening and closing them; every payload that reaches a connection
    arrives in per-thread order, nothing crashes, and after close() every
    thread gets RuntimeError("Manager has been freed")."""
    got = {}  # conn id -> list of payloads
    closed_ids = set()

    def handler(conn, ev, data):
        if ev == MG_EV_WAKEUP:
            assert conn.id not in closed_ids
            got.setdefault(conn.id, []).append(data)
        elif ev == MG_EV_CLOSE:
            closed_ids.add(conn.id)

    mgr = make_manager(handler, enable_wakeup=True)
    lst, port = tcp_listen(mgr, handler)
    socks = []
    live = []  # ids of accepted connections that may be woken

    def open_one():
        socks.append(connect(port))

    # One connection stays open throughout and is first in `live`, so that
    # every thread keeps waking a connection that exists, however loaded the
    # machine (the others come and go, closed by either side).
    keeper_sock = connect(port)
    poll_until(mgr, lambda: any(not c.is_listening and c.id != mgr.wakeup_id
                                for c in mgr.connections))
    keeper = [c.id for c in mgr.connections if not c.is_listening and c.id != mgr.wakeup_id][0]
    live.append(keeper)

    stop = threading.Event()
    errors = []
    sent = [0] * 8

    def hammer(tid):
        n = 0
        while not stop.is_set():
            ids = list(live) or [1]
            for cid in ids[:4] + [0, 999999, 1]:
                try:
                    mgr.wakeup(cid, b"%d:%d" % (tid, n))
                except RuntimeError as exc:
                    if str(exc) != "Manager has been freed":
                        errors.append(exc)
                    return
                except Exception as exc:  # noqa: BLE001
                    errors.append(exc)
                    return
                n += 1
            sent[tid] = n
            time.sleep(0.0002)  # a flood faster than poll() only grows the queue

    threads = [threading.Thread(target=hammer, args=(i,), daemon=True) for i in range(8)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 1.5
        rounds = 0
        while time.monotonic() < deadline or rounds < 10:
            for _ in range(5):
                open_one()
            mgr.poll(1)
            for c in mgr.connections:
                if c is not lst and not c.is_listening and c.id not in live and c.id != mgr.wakeup_id:
                    live.append(c.id)
            # close some from the poll thread, in different ways
            conns = [c for c in mgr.connections if not c.is_listening and c.id != mgr.wakeup_id
                     and c.id != keeper]
            for i, c in enumerate(conns[: len(conns) // 2]):
                if i % 2:
                    c.close()
                else:
                    c.drain()
                if c.id in live:
                    live.remove(c.id)
            for s in socks[:-10]:
                s.close()
            del socks[:-10]
            mgr.poll(0)
            rounds += 1
        # however loaded the machine, wakeups reach the connection kept open
        poll_until(mgr, lambda: keeper in got, what="a wakeup delivered", step=1)
    finally:
        mgr.close()
        stop.set()
        for t in threads:
            t.join(10)
        for s in socks:
            s.close()
        keeper_sock.close()
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
    assert sum(sent) > 0
    assert got, "no wakeup reached a connection"
    for cid, payloads in got.items():
        last = {}
        for p in payloads:
            tid, n = map(int, p.split(b":"))
            assert n > last.get(tid, -1), f"out of order for conn {cid}"
            last[tid] = n


def test_poll_reentered_from_handler_raises(make_manager):
    seen = []

    def on_timer():
        try:
            mgr.poll(0)
        except RuntimeError as exc:
            seen.append(str(exc))

    mgr = make_manager(None)
    mgr.timer_add(1, on_timer, run_now=True)
    poll_until(mgr, lambda: seen)
    assert seen and seen[0]
    mgr.poll(0)  # still usable


def test_poll_from_handler_event_raises(make_manager):
    seen = []

    def handler(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            try:
                mgr.poll(10)
            except RuntimeError as exc:
                seen.append(exc)
            conn.reply(200, b"ok")
            conn.drain()

    mgr = make_manager(handler)
    _, port = http_listen(mgr, handler)

    def req():
        s = connect(port)
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        data = b""
        while True:
            c = s.recv(4096)
            if not c:
                return data
            data += c

    cl = Client(req)
    poll_until(mgr, lambda: cl.done)
    assert cl.result().startswith(b"HTTP/1.1 200")
    assert len(seen) == 1 and isinstance(seen[0], RuntimeError)


def test_poll_from_second_thread_raises(make_manager):
    mgr = make_manager(None)
    started = threading.Event()
    result = []

    def long_poll():
        started.set()
        mgr.poll(300)

    t = threading.Thread(target=long_poll, daemon=True)
    t.start()
    started.wait()
    # wait until the other thread is really inside poll()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            mgr.poll(0)
        except RuntimeError as exc:
            result.append(exc)
            break
        time.sleep(0.001)
    t.join(10)
    assert result, "concurrent poll() was not refused"
    mgr.poll(0)


def test_close_inside_handler_is_safe(make_manager):
    events = []

    def handler(conn, ev, data):
        if ev != MG_EV_POLL:
            events.append(ev)
        if ev == MG_EV_READ:
            mgr.close()
            mgr.close()  # idempotent, still deferred
            conn.send(b"after close")  # the conn is still alive until the end of poll

    mgr = make_manager(handler)
    _, port = tcp_listen(mgr, handler)
    s = connect(port)
    s.sendall(b"x")
    try:
        poll_until(mgr, lambda: MG_EV_CLOSE in events)
    except RuntimeError as exc:
        assert str(exc) == "Manager has been freed"
    with pytest.raises(RuntimeError, match="Manager has been freed"):
        mgr.poll(0)
    with pytest.raises(RuntimeError, match="Manager has been freed"):
        mgr.listen("tcp://127.0.0.1:0")
    assert mgr.connections == ()
    s.close()


def test_close_from_timer_then_more_calls(make_manager):
    def cb():
        mgr.close()
        # creating things after the deferred close must not crash
        try:
            mgr.timer_add(1, lambda: None)
        except RuntimeError:
            pass
        try:
            mgr.listen("tcp://127.0.0.1:0")
        except RuntimeError:
            pass

    mgr = make_manager(None)
    mgr.timer_add(1, cb, run_now=True)
    mgr.poll(0)
    with pytest.raises(RuntimeError, match="Manager has been freed"):
        mgr.poll(0)


def test_close_from_other_thread_during_long_poll(make_manager):
    mgr = make_manager(None)
    _, port = tcp_listen(mgr, None)
    entered = threading.Event()
    out = {}

    def poller():
        entered.set()
        t0 = time.monotonic()
        try:
            mgr.poll(5000)
        except Exception as exc:  # noqa: BLE001
            out["first"] = exc
        out["elapsed"] = time.monotonic() - t0
        try:
            mgr.poll(0)
        except RuntimeError as exc:
            out["second"] = exc

    t = threading.Thread(target=poller, daemon=True)
    t.start()
    entered.wait()
    time.sleep(0.05)  # let it block inside poll(5000)
    t0 = time.monotonic()
    mgr.close()
    closed_in = time.monotonic() - t0
    t.join(10)
    assert not t.is_alive()
    # promptly: well before the 5 s the poll() asked for
    assert closed_in < 4.0, closed_in
    assert out["elapsed"] < 4.0
    assert "first" not in out
    assert str(out["second"]) == "Manager has been freed"


def test_close_races_from_many_threads(make_manager):
    """close() called from 4 threads at once while the owner polls."""
    mgr = make_manager(None, enable_wakeup=True)
    tcp_listen(mgr, None)
    go = threading.Event()
    errs = []

    def closer():
        go.wait()
        try:
            mgr.close()
        except Exception as exc:  # noqa: BLE001
            errs.append(exc)

    def poller():
        go.wait()
        for _ in range(1000):
            try:
                mgr.poll(1)
            except RuntimeError as exc:
                if str(exc) != "Manager has been freed":
                    errs.append(exc)
                return

    ts = [threading.Thread(target=closer, daemon=True) for _ in range(4)]
    ts.append(threading.Thread(target=poller, daemon=True))
    for t in ts:
        t.start()
    go.set()
    for t in ts:
        t.join(10)
    assert not any(t.is_alive() for t in ts)
    assert not errs, errs
    with pytest.raises(RuntimeError):
        mgr.poll(0)


OTHER_THREAD = textwrap.dedent(
    r"""
    import socket, threading, time
    from pymongoose import Manager, MG_EV_ACCEPT
    acc = []
    def h(c, ev, d):
        if ev == MG_EV_ACCEPT:
            acc.append(c)
    m = Manager(h, enable_wakeup=True)
    lst = m.listen("tcp://127.0.0.1:0")
    port = lst.local_addr[1]
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
    while len(acc) < 4:
        m.poll(5)
    stop = threading.Event()
    def poller():
        while not stop.is_set():
            m.poll(1)
    t = threading.Thread(target=poller)
    t.start()
    # API calls that belong to the poll thread, made from another thread:
    # they may work or raise, but must not crash the process.
    for i in range(300):
        c = acc[i % 4]
        for f in (lambda: c.send(b"x"), lambda: c.recv_data(), lambda: c.send_len,
                  lambda: c.is_full, lambda: c.remote_addr, lambda: m.connections,
                  lambda: m.timer_add(1, lambda: None)):
            try:
                f()
            except Exception:
                pass
    stop.set()
    t.join()
    m.close()
    print("OK")
    """
)


def test_poll_thread_api_from_other_thread_does_not_crash():
    p = subprocess.run([sys.executable, "-c", OTHER_THREAD], capture_output=True, timeout=60,
                       cwd=os.path.dirname(__file__))
    assert p.returncode == 0, p.stderr.decode()[-3000:]
    assert b"OK" in p.stdout


RACE_CLOSE = textwrap.dedent(
    r"""
    import socket, sys, threading
    from pymongoose import Manager, MG_EV_READ
    errs = []
    for it in range(300):
        def h(c, ev, d):
            if ev == MG_EV_READ:
                c.send(b"y")
        m = Manager(h, enable_wakeup=True)
        lst = m.listen("tcp://127.0.0.1:0")
        s = socket.create_connection(("127.0.0.1", lst.local_addr[1]))
        go = threading.Event()
        def closer():
            go.wait()
            try:
                m.close()
            except Exception as e:
                errs.append(repr(e))
        def poller():
            go.wait()
            for _ in range(200):
                try:
                    s.send(b"x")
                    m.poll(0)
                except RuntimeError as e:
                    if str(e) != "Manager has been freed":
                        errs.append(repr(e))
                    return
                except OSError:
                    return
        def waker():
            go.wait()
            for _ in range(200):
                try:
                    m.wakeup(1, b"z")
                except RuntimeError:
                    return
        ts = [threading.Thread(target=f) for f in (closer, closer, poller, waker)]
        for t in ts:
            t.start()
        go.set()
        for t in ts:
            t.join()
        s.close()
        if not m._core.freed:
            errs.append("not freed")
    print("ERRS", errs[:5])
    """
)


def test_close_from_other_threads_races_with_poll_no_crash():
    """Regression: Manager.close() from another thread while the owner
    thread keeps calling poll() (between two polls, so ``polling`` was
    False) ran CloseManager concurrently with a poll() that started while
    CloseManager had released the GIL: SIGSEGV in pmg_poll
    (pmg_core_closing(NULL)) or in dispatch. Two threads calling close() at
    once also ran two CloseManager concurrently."""
    p = subprocess.run([sys.executable, "-c", RACE_CLOSE], capture_output=True, timeout=120,
                       cwd=os.path.dirname(__file__))
    assert p.returncode == 0, p.stderr.decode(errors="replace")[-3000:]
    assert b"ERRS []" in p.stdout, p.stdout
