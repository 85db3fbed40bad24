"""close(): synchronous MG_EV_CLOSE, wrapper invalidated, socket really closed (API 6.3, 6.6, 15)."""

import socket

import pytest

from pymongoose import (
    MG_EV_ACCEPT,
    MG_EV_CLOSE,
    MG_EV_HTTP_MSG,
    MG_EV_POLL,
    MG_EV_READ,
)

from conftest import (
    ResponseReader,
    connect,
    http_listen,
    poll_for,
    poll_until,
    recv_all,
    run_client,
    tcp_listen,
)


def _client_sees_end(port, request=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"):
    """Send a request and read until the connection ends (EOF or reset)."""
    s = connect(port, timeout=10)
    s.sendall(request)
    got = bytearray()
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return "eof", bytes(got)
            got += chunk
    except ConnectionResetError:
        return "reset", bytes(got)
    except socket.timeout:
        return "timeout", bytes(got)
    finally:
        s.close()


def test_close_after_reply_is_synchronous_and_client_sees_end(make_manager, recorder):
    log = []

    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            c.reply(200, b"never mind")
            log.append(("before", c.id > 0))
            c.close()
            log.append(("after", rec.has(MG_EV_CLOSE, c), c.id > 0, c.is_closing, repr(c)))
        elif ev == MG_EV_CLOSE and not c.is_listening:
            # While MG_EV_CLOSE runs the wrapper is still open.
            log.append(("in-close", c.id > 0, c.is_closing))

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)
    how, _ = run_client(mgr, _client_sees_end, port, timeout=15)
    assert how in ("eof", "reset"), "client never saw the connection end"
    assert log == [
        ("before", True),
        ("in-close", True, True),
        ("after", True, True, True, "<Connection closed>"),  # a closed wrapper keeps its id
    ]
    conn = rec.conns_with(MG_EV_HTTP_MSG)[0]
    assert rec.count(MG_EV_CLOSE, conn) == 1
    assert rec.seq(conn)[-1] == MG_EV_CLOSE


def test_close_twice_and_inside_close_handler_is_harmless(make_manager, recorder):
    def on(c, ev, d):
        if ev == MG_EV_READ:
            c.close()
            c.close()
            c.drain()
        elif ev == MG_EV_CLOSE:
            c.close()  # inside MG_EV_CLOSE: no-op
            c.drain()

    rec = recorder(on)
    mgr = make_manager()
    lst, port = tcp_listen(mgr, rec)
    how, _ = run_client(mgr, _client_sees_end, port, b"hi", timeout=15)
    assert how in ("eof", "reset")
    conn = rec.conns_with(MG_EV_READ)[0]
    assert rec.count(MG_EV_CLOSE, conn) == 1
    conn.close()  # on the closed wrapper, later: still a no-op
    conn.drain()
    assert repr(conn) == "<Connection closed>"
    # the loop goes on
    poll_for(mgr, 3)
    assert lst.id > 0 and not lst.is_closing


def test_close_from_timer_callback(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    _, port = tcp_listen(mgr, rec)
    s = connect(port)
    try:
        poll_until(mgr, lambda: rec.has(MG_EV_ACCEPT))
        conn = rec.conns_with(MG_EV_ACCEPT)[0]
        fired = []

        def cb():
            conn.close()
            fired.append(rec.has(MG_EV_CLOSE, conn))

        mgr.timer_add(1, cb)
        poll_until(mgr, lambda: fired)
        assert fired == [True]
        assert repr(conn) == "<Connection closed>"
        assert run_client(mgr, recv_all, s) == b""
    finally:
        s.close()


def test_close_other_connection_from_handler(make_manager, recorder):
    """Closing another connection from a handler: it gets CLOSE once and nothing after."""
    victims = []

    def on(c, ev, d):
        if ev == MG_EV_POLL and c.is_listening and len(victims) == 2:
            for v in victims:
                v.close()
            victims.clear()
        elif ev == MG_EV_ACCEPT:
            victims.append(c)

    rec = recorder(on)
    mgr = make_manager()
    lst, port = tcp_listen(mgr, rec)
    s1, s2 = connect(port), connect(port)
    try:
        poll_until(mgr, lambda: rec.count(MG_EV_CLOSE) == 2)
        poll_for(mgr, 3)
        for s in (s1, s2):
            s.settimeout(10)
            assert s.recv(10) == b""
    finally:
        s1.close()
        s2.close()


def test_closed_listener_frees_its_port(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    lst, port = tcp_listen(mgr, rec)
    lst.close()
    assert rec.has(MG_EV_CLOSE, lst)
    assert repr(lst) == "<Connection closed>"
    # Nobody listens any more...
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    # ...and the port can be bound again right away.
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    finally:
        s.close()
    lst2 = mgr.listen(f"tcp://127.0.0.1:{port}", rec)
    assert lst2.local_addr[1] == port


def test_listener_closed_by_drain_frees_its_port(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    lst, port = tcp_listen(mgr, rec)
    lst.drain()
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, lst))
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_closing_listener_keeps_accepted_connections(make_manager, recorder):
    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            c.reply(200, b"still here")

    rec = recorder(on)
    mgr = make_manager()
    lst, port = http_listen(mgr, rec)
    s = connect(port)
    try:
        poll_until(mgr, lambda: rec.has(MG_EV_ACCEPT))
        lst.close()
        rd = ResponseReader(s)

        def ask():
            s.sendall(b"GET / HTTP/1.1\r\n\r\n")
            return rd.read()

        r = run_client(mgr, ask)
        assert (r.status, r.body) == (200, b"still here")
    finally:
        s.close()


def test_manager_close_delivers_poll_then_close_to_every_connection(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    lst, port = tcp_listen(mgr, rec)
    s = connect(port)
    try:
        poll_until(mgr, lambda: rec.has(MG_EV_ACCEPT))
        conn = rec.conns_with(MG_EV_ACCEPT)[0]
        conn.send(b"unsent data is not flushed")
        n = len(rec.events)
        mgr.close()
        for c in (lst, conn):
            evs = [e for cc, e, _ in rec.events[n:] if cc is c]
            assert evs == [MG_EV_POLL, MG_EV_CLOSE]
            assert repr(c) == "<Connection closed>"
        s.settimeout(10)
        try:
            got = recv_all(s)
        except ConnectionResetError:
            got = b""
        assert got == b"", "Manager.close() flushed a send buffer"
        mgr.close()  # idempotent
        for call in (lambda: mgr.poll(0), lambda: mgr.listen("tcp://127.0.0.1:0"),
                     lambda: mgr.connect(f"tcp://127.0.0.1:{port}"),
                     lambda: mgr.timer_add(10, lambda: None)):
            with pytest.raises(RuntimeError, match="Manager has been freed"):
                call()
    finally:
        s.close()


def test_manager_close_from_handler_is_deferred(make_manager, recorder):
    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            c.reply(200, b"x")
            mgr.close()  # deferred to the end of this poll()
            seen.append(c.id > 0)

    seen = []
    rec = recorder(on)
    mgr = make_manager()
    lst, port = http_listen(mgr, rec)
    s = connect(port)
    try:
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        with pytest.raises(RuntimeError, match="Manager has been freed"):
            poll_until(mgr, lambda: False, timeout=10)
        assert seen == [True]
        assert repr(lst) == "<Connection closed>"
        assert rec.has(MG_EV_CLOSE, lst)
    finally:
        s.close()


def test_close_right_after_reply_with_keepalive_client(make_manager, recorder):
    """reply() then close(): unsent data is dropped, the client never hangs."""

    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            c.reply(200, b"x" * (8 * 1024 * 1024))
            c.close()

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)
    how, got = run_client(mgr, _client_sees_end, port, timeout=15)
    assert how in ("eof", "reset")
    assert got == b"", "close() did not drop the unsent reply"
