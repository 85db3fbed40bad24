"""Slow and greedy peers: trickled heads, stalled bodies, peers that never
read, back-pressure and the raw receive-buffer cap."""

import select
import socket
import time

from pymongoose import (
    MG_EV_ACCEPT,
    MG_EV_CLOSE,
    MG_EV_ERROR,
    MG_EV_HTTP_MSG,
    MG_EV_POLL,
    MG_EV_READ,
    MG_EV_WRITE,
)

from conftest import Client, connect, http_listen, poll_until, recv_exact, tcp_listen


def trickle(port, data, delay=0.05, limit=8.0):
    """Send ``data`` one byte per ``delay`` s; stop when the server answers
    or closes. Returns (bytes sent, everything received until EOF)."""
    s = connect(port, timeout=limit)
    got = bytearray()
    sent = 0
    deadline = time.monotonic() + limit
    try:
        for b in data:
            r, _, _ = select.select([s], [], [], delay)
            if r:
                break
            try:
                s.send(bytes([b]))
            except OSError:
                break
            sent += 1
            if time.monotonic() > deadline:
                break
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            got += chunk
        return sent, bytes(got)
    finally:
        s.close()


def test_trickled_head_gets_408(make_manager, recorder):
    rec = recorder()
    mgr = make_manager(head_timeout_ms=500)
    _, port = http_listen(mgr, rec)
    head = b"GET / HTTP/1.1\r\n" + b"X-Slow: " + b"a" * 400 + b"\r\n\r\n"
    cl = Client(trickle, port, head)
    poll_until(mgr, lambda: cl.done, what="trickling client")
    sent, got = cl.result()
    assert got.startswith(b"HTTP/1.1 408 "), got[:100]
    assert sent < len(head)
    assert not rec.has(MG_EV_HTTP_MSG)
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE), what="server close")


def test_stalled_body_gets_408(make_manager, recorder):
    rec = recorder()
    mgr = make_manager(stall_timeout_ms=300, head_timeout_ms=30000)
    _, port = http_listen(mgr, rec)

    def run():
        s = connect(port)
        try:
            s.sendall(b"POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n" + b"b" * 100)
            buf = bytearray()
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return bytes(buf)
                buf += chunk
        finally:
            s.close()

    cl = Client(run)
    poll_until(mgr, lambda: cl.done, what="stalled client")
    assert cl.result().startswith(b"HTTP/1.1 408 ")
    assert not rec.has(MG_EV_HTTP_MSG)


def test_chunked_body_that_never_ends_gets_408(make_manager, recorder):
    rec = recorder()
    mgr = make_manager(stall_timeout_ms=300)
    _, port = http_listen(mgr, rec)

    def run():
        s = connect(port)
        try:
            s.sendall(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            buf = bytearray()
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return bytes(buf)
                buf += chunk
        finally:
            s.close()

    cl = Client(run)
    poll_until(mgr, lambda: cl.done, what="stalled chunked client")
    assert cl.result().startswith(b"HTTP/1.1 408 ")
    assert not rec.has(MG_EV_HTTP_MSG)


def test_greedy_sender_sees_is_full_and_reading_pauses(make_manager, recorder):
    """A handler that keeps sending (on every MG_EV_POLL and MG_EV_WRITE)
    while the peer does not read: is_full turns True once send_len reaches
    send_high_water; the handler obeys it, so send_len stays bounded; while
    full, bytes from the peer are not read (no MG_EV_READ)."""
    HW = 256 * 1024
    state = {"max_send_len": 0, "full_seen": False, "reads_while_full": 0}

    def on(c, ev, d):
        if c.is_listening:
            return
        if ev in (MG_EV_POLL, MG_EV_WRITE, MG_EV_ACCEPT):
            if c.is_full:
                state["full_seen"] = True
            else:
                c.send(b"g" * 65536)
            state["max_send_len"] = max(state["max_send_len"], c.send_len)
            if c.send_len >= HW:
                assert c.is_full
        elif ev == MG_EV_READ and c.is_full:
            state["reads_while_full"] += 1

    rec = recorder(on)
    mgr = make_manager(send_high_water=HW)
    _, port = tcp_listen(mgr, rec)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    try:
        poll_until(mgr, lambda: state["full_seen"], what="is_full")
        conn = rec.conns_with(MG_EV_ACCEPT)[0]
        s.sendall(b"hello")
        for _ in range(20):
            mgr.poll(5)
        assert conn.is_full
        assert not rec.has(MG_EV_READ, conn), "read while is_full"
        assert state["max_send_len"] < HW + 65536 + 1
        # now the peer reads a lot: the conn drains below the mark and reads
        cl = Client(recv_exact, s, 2 * 1024 * 1024)
        poll_until(mgr, lambda: cl.done and rec.has(MG_EV_READ, conn), what="read after draining")
        assert cl.result() == b"g" * (2 * 1024 * 1024)
        assert state["reads_while_full"] == 0
    finally:
        s.close()


def test_recv_cap_on_raw_tcp(make_manager, recorder):
    rec = recorder()
    mgr = make_manager(max_recv_size=100000)
    _, port = tcp_listen(mgr, rec)
    s = connect(port)

    def flood():
        try:
            for _ in range(100):
                s.sendall(b"z" * 65536)
        except OSError:
            pass

    try:
        cl = Client(flood)
        poll_until(mgr, lambda: rec.has(MG_EV_CLOSE), what="recv cap close")
        conn = rec.conns_with(MG_EV_CLOSE)[0]
        assert rec.data_of(MG_EV_ERROR, conn) == ["MG_MAX_RECV_SIZE"]
        assert rec.seq(conn)[-2:] == [MG_EV_ERROR, MG_EV_CLOSE]
        poll_until(mgr, lambda: cl.done, what="flood ends")
    finally:
        s.close()
