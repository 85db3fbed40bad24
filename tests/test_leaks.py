"""No leaks: thousands of connections opened and closed in mixed ways leave
the process's file descriptors, Python threads, Go goroutines, the binding's
handles (connection and timer entries of the Go registry, live Python
Connection wrappers) and the Manager's connection table at their baseline."""

import gc
import os
import socket
import struct
import threading

import pytest

from pymongoose import MG_EV_CLOSE, MG_EV_HTTP_MSG, MG_EV_READ, Connection, Manager
from pymongoose._gopy import pybind as go

from conftest import poll_until, threads_started_since

LINGER0 = struct.pack("ii", 1, 0)


def fd_count():
    return len(os.listdir("/proc/self/fd"))


def runtime_pair(new):
    """The Go runtime opens its netpoller (an eventpoll and an eventfd) once
    per process, when it first needs a runtime timer: tolerated once."""
    kinds = sorted(k for _, k in new)
    return kinds in ([], ["anon_inode:[eventfd]", "anon_inode:[eventpoll]"])


def fd_list():
    out = []
    for fd in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            out.append((fd, os.readlink("/proc/self/fd/" + fd)))
        except OSError:
            pass
    return out


def binding_stats():
    """The Go side's view (goroutines, managers, conn and timer handles)
    plus the live Python Connection wrappers."""
    gc.collect()
    stats = dict(kv.split("=") for kv in go.DebugStats().split())
    stats = {k: int(v) for k, v in stats.items()}
    stats["wrappers"] = sum(1 for o in gc.get_objects() if type(o) is Connection)
    return stats


def settle(mgr, cond, what):
    poll_until(mgr, cond, what=what, step=5)


class Counting:
    def __init__(self):
        self.msgs = 0
        self.closes = 0
        self.opened = set()

    def __call__(self, conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            self.msgs += 1
            uri = data.uri
            if uri == "/drain":
                conn.reply(200, b"ok")
                conn.drain()
            elif uri == "/close":
                conn.close()
            else:
                conn.reply(200, b"ok")
        elif ev == MG_EV_READ and not conn.is_listening:
            # raw TCP echo of what arrived, then forget it
            data = conn.recv_data()
            if data:
                conn.send(data)
        elif ev == MG_EV_CLOSE:
            self.closes += 1


MODES = ("keepalive", "drain", "close", "reset", "reset-before", "raw", "raw-reset", "idle")


def run_batch(mgr, http_port, tcp_port, modes):
    """Open one client socket per mode, drive all of them to their end."""
    pending = []
    for mode in modes:
        port = tcp_port if mode.startswith("raw") else http_port
        s = socket.create_connection(("127.0.0.1", port))
        if mode in ("reset", "reset-before", "raw-reset"):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
        if mode == "reset-before":
            s.close()
            continue
        if mode == "idle":
            s.close()  # connects and leaves without a byte
            continue
        req = {
            "keepalive": b"GET /ka HTTP/1.1\r\n\r\n",
            "drain": b"GET /drain HTTP/1.1\r\n\r\n",
            "close": b"GET /close HTTP/1.1\r\n\r\n",
            "reset": b"GET /ka HTTP/1.1\r\n\r\n",
            "raw": b"ping",
            "raw-reset": b"ping",
        }[mode]
        s.sendall(req)
        if mode == "reset":
            s.close()  # RST while the server may be replying
            continue
        s.setblocking(False)
        pending.append([s, mode, bytearray()])
    while pending:
        mgr.poll(1)
        for item in list(pending):
            s, mode, buf = item
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                chunk = b""
            buf += chunk
            done = not chunk
            if mode == "keepalive" and buf.endswith(b"\r\n\r\nok"):
                done = True
            if mode in ("raw", "raw-reset") and buf == b"ping":
                done = True
            if done:
                s.close()
                pending.remove(item)


def workload(mgr, h, total_conns):
    """Listeners, ``total_conns`` mixed inbound connections, 100 outbound
    ones; everything but the Manager itself closed at the end."""
    lst = mgr.listen("http://127.0.0.1:0", http=True)
    raw = mgr.listen("tcp://127.0.0.1:0")
    http_port, tcp_port = lst.local_addr[1], raw.local_addr[1]
    base = len(mgr.connections)
    total = 0
    batch = list(MODES) * 8
    while total < total_conns:
        closes = h.closes + len(batch)
        run_batch(mgr, http_port, tcp_port, batch)
        total += len(batch)
        # every accepted connection (the accept queue holds at most 128)
        settle(mgr, lambda: h.closes >= closes and len(mgr.connections) == base,
               "server side closed")

    # outbound connections of the same manager, closed in several ways
    def client(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            conn.close()

    for i in range(100):
        c = mgr.connect(f"http://127.0.0.1:{http_port}", client)
        c.send(b"GET /ka HTTP/1.1\r\n\r\n")
        if i % 3 == 0:
            c.close()
        elif i % 3 == 1:
            c.drain()
    settle(mgr, lambda: len(mgr.connections) == base, "outbound conns closed")
    lst.close()
    raw.close()
    return total


def warm_up():
    """Let the Go runtime open its own one-time descriptors (its netpoller's
    epoll and eventfd, cgroup files) before a baseline is taken."""
    h = Counting()
    m = Manager(h, enable_wakeup=True)
    workload(m, h, 3000)
    m.close()


@pytest.mark.parametrize("wakeup", [False, True])
def test_3000_mixed_connections_leave_nothing(wakeup):
    warm_up()
    threads0 = set(threading.enumerate())
    fds0 = fd_count()
    fdl0 = fd_list()
    h = Counting()
    mgr = Manager(h, enable_wakeup=wakeup)
    try:
        total = workload(mgr, h, 3000)
        assert total >= 3000
        assert h.closes >= total + 100 + 2
        assert h.msgs > 0
        assert mgr.connections == () or all(c.id == mgr.wakeup_id for c in mgr.connections)
        new = set(fd_list()) - set(fdl0)  # the Manager's epoll fd and eventfd
        assert len(new) <= 4 and all(k.startswith("anon_inode:") for _, k in new), new
        assert threads_started_since(threads0) == []
    finally:
        mgr.close()
    assert mgr.connections == ()
    new = set(fd_list()) - set(fdl0)
    assert runtime_pair(new), new
    assert threads_started_since(threads0) == []


def test_many_managers_created_and_closed_leave_no_fds():
    warm_up()
    fdl0 = fd_list()
    threads0 = set(threading.enumerate())
    for i in range(200):
        m = Manager(None, enable_wakeup=bool(i % 2))
        lst = m.listen("tcp://127.0.0.1:0")
        s = socket.create_connection(("127.0.0.1", lst.local_addr[1]))
        m.poll(0)
        m.poll(0)
        if i % 2:
            m.wakeup(m.wakeup_id, b"x")
        m.close()
        s.close()
    new = set(fd_list()) - set(fdl0)
    assert runtime_pair(new), new
    assert threads_started_since(threads0) == []


def test_100000_mixed_connections_leave_fds_goroutines_and_handles_at_baseline():
    """Issue 9: 100,000 connections (keep-alive, drain, close, reset by the
    peer before and after the request, raw TCP, idle) through one Manager."""
    warm_up()
    fdl0 = fd_list()
    threads0 = set(threading.enumerate())
    base = binding_stats()
    h = Counting()
    mgr = Manager(h, enable_wakeup=True)
    try:
        mgr.timer_add(1, lambda: None, repeat=True)
        total = workload(mgr, h, 100_000)
        assert total >= 100_000
        assert h.closes >= total + 100 + 2
        # while the Manager lives: only its wakeup connection and one timer
        during = binding_stats()
        assert during["conns"] <= 2 and during["timers"] == 1, during  # the wakeup conn (+ wrapper)
        assert during["managers"] == base["managers"] + 1, during
        assert during["goroutines"] <= base["goroutines"] + 1, (base, during)  # + the wakeup reader, if any
        assert during["wrappers"] <= base["wrappers"] + 1, (base, during)
    finally:
        mgr.close()
    after = binding_stats()
    assert after == base, (base, after)
    new = set(fd_list()) - set(fdl0)
    assert runtime_pair(new), new
    assert threads_started_since(threads0) == []
