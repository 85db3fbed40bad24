"""Event sequences, handler routing, wrapper identity, userdata (API 2, 4, 5.1, 5.3)."""

import socket

import pytest

from pymongoose import (
    MG_EV_ACCEPT,
    MG_EV_CLOSE,
    MG_EV_CONNECT,
    MG_EV_ERROR,
    MG_EV_HTTP_HDRS,
    MG_EV_HTTP_MSG,
    MG_EV_OPEN,
    MG_EV_POLL,
    MG_EV_READ,
    MG_EV_RESOLVE,
    MG_EV_WRITE,
    HttpMessage,
)

from conftest import (
    ResponseReader,
    connect,
    free_refused_port,
    http_listen,
    poll_for,
    poll_until,
    recv_all,
    run_client,
    tcp_listen,
)


def collapse(seq, evs=(MG_EV_HTTP_HDRS, MG_EV_WRITE)):
    """Merge consecutive repeats of events that may legitimately repeat."""
    out = []
    for e in seq:
        if out and out[-1] == e and e in evs:
            continue
        out.append(e)
    return out


def test_keepalive_request_event_sequence(make_manager, recorder):
    """API 2.7, HTTP server with a keep-alive client sending two requests."""
    read_lens = []

    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            c.reply(200, b"ok")
        elif ev == MG_EV_READ:
            read_lens.append(c.recv_len)

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)

    s = connect(port)
    rd = ResponseReader(s)

    def one(path):
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        return rd.read().body

    try:
        assert run_client(mgr, one, "/1") == b"ok"
        conn = rec.conns_with(MG_EV_ACCEPT)[0]
        # the response is on the wire, so its MG_EV_WRITE has been delivered
        poll_until(mgr, lambda: MG_EV_WRITE in rec.seq(conn))
        assert run_client(mgr, one, "/2") == b"ok"
        poll_until(mgr, lambda: rec.seq(conn).count(MG_EV_WRITE) >= 2)
    finally:
        s.close()
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, conn))
    assert collapse(rec.seq(conn)) == [
        MG_EV_OPEN, MG_EV_ACCEPT,
        MG_EV_HTTP_HDRS, MG_EV_HTTP_MSG, MG_EV_READ, MG_EV_WRITE,
        MG_EV_HTTP_HDRS, MG_EV_HTTP_MSG, MG_EV_READ, MG_EV_WRITE,
        MG_EV_CLOSE,
    ], rec.names(conn)
    assert read_lens == [0, 0]


def test_pipelined_requests_in_one_packet_sequence(make_manager, recorder):
    rec = recorder(lambda c, ev, d: ev == MG_EV_HTTP_MSG and c.reply(200, b""))
    mgr = make_manager()
    _, port = http_listen(mgr, rec)
    s = connect(port)
    try:
        s.sendall(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
        poll_until(mgr, lambda: rec.count(MG_EV_HTTP_MSG) == 2 and rec.has(MG_EV_READ))
        conn = rec.conns_with(MG_EV_ACCEPT)[0]
        seq = [e for e in rec.seq(conn) if e != MG_EV_WRITE]
        assert collapse(seq) == [
            MG_EV_OPEN, MG_EV_ACCEPT,
            MG_EV_HTTP_HDRS, MG_EV_HTTP_MSG, MG_EV_HTTP_HDRS, MG_EV_HTTP_MSG, MG_EV_READ,
        ], rec.names(conn)
    finally:
        s.close()


def test_drain_request_event_sequence(make_manager, recorder):
    """API 2.7: reply(); drain() -> HDRS, MSG, WRITE..., CLOSE; no READ."""

    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            c.reply(200, b"bye")
            c.drain()

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)

    def client():
        s = connect(port)
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        return recv_all(s)

    run_client(mgr, client)
    conn = rec.conns_with(MG_EV_ACCEPT)[0]
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, conn))
    assert collapse(rec.seq(conn)) == [
        MG_EV_OPEN, MG_EV_ACCEPT, MG_EV_HTTP_HDRS, MG_EV_HTTP_MSG, MG_EV_WRITE, MG_EV_CLOSE,
    ], rec.names(conn)


def test_listen_handler_gets_open_inside_listen(make_manager, recorder):
    default = recorder(name="default")
    own = recorder(name="own")
    mgr = make_manager(default)
    lst = mgr.listen("tcp://127.0.0.1:0", own)
    assert own.seq(lst) == [MG_EV_OPEN]
    assert own.events[0][0] is lst
    assert default.events == []
    poll_for(mgr, 2)
    assert own.count(MG_EV_POLL, lst) == 2
    assert default.events == []


def test_connect_handler_gets_events_fired_inside_connect(make_manager, recorder):
    default = recorder(name="default")
    own = recorder(name="own")
    mgr = make_manager(default)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        c = mgr.connect(f"tcp://127.0.0.1:{port}", own)
        assert own.seq(c) == [MG_EV_OPEN, MG_EV_RESOLVE]
        assert c.is_client
        assert c.handler is own
        poll_until(mgr, lambda: own.has(MG_EV_CONNECT, c))
        assert default.events == []
        peer, _ = srv.accept()
        peer.close()
        poll_until(mgr, lambda: own.has(MG_EV_CLOSE, c))
        assert own.seq(c)[-1] == MG_EV_CLOSE
    finally:
        srv.close()


def test_connect_refused_gives_error_then_close(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    c = mgr.connect(f"tcp://127.0.0.1:{free_refused_port()}", rec)
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, c))
    seq = rec.seq(c)
    assert seq[:2] == [MG_EV_OPEN, MG_EV_RESOLVE]
    assert seq[-2:] == [MG_EV_ERROR, MG_EV_CLOSE], rec.names(c)
    assert MG_EV_CONNECT not in seq
    err = rec.data_of(MG_EV_ERROR, c)[0]
    assert isinstance(err, str) and err


def test_accepted_connections_inherit_listener_handler(make_manager, recorder):
    default = recorder(name="default")
    own = recorder(name="own")
    mgr = make_manager(default)
    lst, port = tcp_listen(mgr, own)
    s = connect(port)
    try:
        s.sendall(b"x")
        poll_until(mgr, lambda: own.has(MG_EV_READ))
        child = own.conns_with(MG_EV_ACCEPT)[0]
        assert child is not lst
        assert child.handler is own
        # its very first events already went to the inherited handler
        assert own.seq(child)[:2] == [MG_EV_OPEN, MG_EV_ACCEPT]
        assert not any(c is child for c, _, _ in default.events)
    finally:
        s.close()


def test_set_handler_on_listener_changes_future_children_only(make_manager, recorder):
    default = recorder(name="default")
    h1 = recorder(name="h1")
    h2 = recorder(name="h2")
    mgr = make_manager(default)
    lst, port = tcp_listen(mgr, h1)
    socks = [connect(port)]
    try:
        poll_until(mgr, lambda: h1.has(MG_EV_ACCEPT))
        first = h1.conns_with(MG_EV_ACCEPT)[0]
        lst.set_handler(h2)
        assert lst.handler is h2
        socks.append(connect(port))
        poll_until(mgr, lambda: h2.has(MG_EV_ACCEPT))
        second = h2.conns_with(MG_EV_ACCEPT)[0]
        assert first.handler is h1 and second.handler is h2
        lst.set_handler(None)
        socks.append(connect(port))
        poll_until(mgr, lambda: default.has(MG_EV_ACCEPT))
        third = default.conns_with(MG_EV_ACCEPT)[0]
        assert third.handler is None
        socks[0].sendall(b"a")
        socks[1].sendall(b"b")
        socks[2].sendall(b"c")
        poll_until(mgr, lambda: h1.has(MG_EV_READ) and h2.has(MG_EV_READ) and default.has(MG_EV_READ))
        assert h1.conns_with(MG_EV_READ) == [first]
        assert h2.conns_with(MG_EV_READ) == [second]
        assert default.conns_with(MG_EV_READ) == [third]
    finally:
        for s in socks:
            s.close()


def test_set_handler_takes_effect_for_next_event(make_manager, recorder):
    other = recorder(name="other")

    def on(c, ev, d):
        if ev == MG_EV_READ:
            c.set_handler(other)

    first = recorder(on, name="first")
    mgr = make_manager()
    _, port = tcp_listen(mgr, first)
    s = connect(port)
    try:
        s.sendall(b"x")
        poll_until(mgr, lambda: first.has(MG_EV_READ))
        conn = first.conns_with(MG_EV_READ)[0]
        assert conn.handler is other
        s.sendall(b"y")
        poll_until(mgr, lambda: other.has(MG_EV_READ))
        assert first.count(MG_EV_READ) == 1
    finally:
        s.close()


def test_default_handler_used_without_own_handler(make_manager, recorder):
    default = recorder(name="default")
    mgr = make_manager(default)
    lst, port = tcp_listen(mgr, None)
    assert lst.handler is None
    assert default.seq(lst) == [MG_EV_OPEN]
    s = connect(port)
    try:
        poll_until(mgr, lambda: default.has(MG_EV_ACCEPT))
    finally:
        s.close()


def test_no_handler_at_all_still_invalidates_wrapper(make_manager):
    """A connection without any handler becomes a closed wrapper when it closes (5.1)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        mgr = make_manager()  # no default handler
        c = mgr.connect(f"tcp://127.0.0.1:{port}")  # and no own handler
        assert c.id > 0
        srv.settimeout(10)
        peer, _ = srv.accept()
        peer.close()
        poll_until(mgr, lambda: repr(c) == "<Connection closed>", what="wrapper invalidated")
        assert c.is_closing and repr(c) == "<Connection closed>"
        with pytest.raises(RuntimeError, match="Connection has been closed"):
            c.send(b"x")
    finally:
        srv.close()


def test_same_connection_object_for_all_events_and_userdata(make_manager, recorder):
    def on(c, ev, d):
        if ev == MG_EV_ACCEPT:
            c.userdata = {"n": 0}
        elif ev == MG_EV_HTTP_MSG:
            c.userdata["n"] += 1
            c.reply(200, str(c.userdata["n"]))

    rec = recorder(on)
    mgr = make_manager()
    lst, port = http_listen(mgr, rec)
    assert rec.events[0][0] is lst  # OPEN fired inside listen() with the returned object

    def client():
        s = connect(port)
        rd = ResponseReader(s)
        out = []
        for _ in range(3):
            s.sendall(b"GET / HTTP/1.1\r\n\r\n")
            out.append(rd.read().body)
        s.close()
        return out

    assert run_client(mgr, client) == [b"1", b"2", b"3"]
    children = [c for c, e, _ in rec.events if c is not lst]
    assert children
    conn = children[0]
    assert all(c is conn for c in children)
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, conn))
    assert conn.userdata == {"n": 3}  # still readable after close
    conn.userdata = "w"
    assert conn.userdata == "w"


def test_poll_reaches_every_connection_once_per_poll(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    lst, port = tcp_listen(mgr, rec)
    s = connect(port)
    try:
        poll_until(mgr, lambda: rec.has(MG_EV_ACCEPT))
        conn = rec.conns_with(MG_EV_ACCEPT)[0]
        before = (rec.count(MG_EV_POLL, lst), rec.count(MG_EV_POLL, conn))
        for _ in range(3):
            mgr.poll(0)
        after = (rec.count(MG_EV_POLL, lst), rec.count(MG_EV_POLL, conn))
        assert (after[0] - before[0], after[1] - before[1]) == (3, 3)
    finally:
        s.close()


def test_event_payload_types(make_manager, recorder):
    msgs = {}

    def on(c, ev, d):
        if ev in (MG_EV_HTTP_HDRS, MG_EV_HTTP_MSG):
            assert type(d) is HttpMessage
            msgs.setdefault(ev, []).append(d)
            if ev == MG_EV_HTTP_MSG:
                c.reply(200, b"")
        elif ev in (MG_EV_OPEN, MG_EV_POLL, MG_EV_ACCEPT, MG_EV_READ, MG_EV_WRITE, MG_EV_CLOSE):
            assert d is None, (ev, d)
        elif ev == MG_EV_ERROR:
            assert type(d) is str

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)

    def client():
        s = connect(port)
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        r = ResponseReader(s).read()
        s.close()
        return r.status

    assert run_client(mgr, client) == 200
    # a fresh message object per event
    assert msgs[MG_EV_HTTP_HDRS][-1] is not msgs[MG_EV_HTTP_MSG][0]


def test_handler_called_positionally(make_manager):
    got = []

    def h(conn, ev, data, /):
        got.append(ev)

    mgr = make_manager(h)
    mgr.listen("tcp://127.0.0.1:0")
    mgr.poll(0)
    assert got[:2] == [MG_EV_OPEN, MG_EV_POLL]


def test_error_method_fires_error_then_close(make_manager, recorder):
    got = {}

    def on(c, ev, d):
        if ev == MG_EV_READ and "err" not in got:
            c.error("custom failure")
            got["err"] = rec.data_of(MG_EV_ERROR, c)
            got["closing"] = c.is_closing

    rec = recorder(on)
    mgr = make_manager()
    _, port = tcp_listen(mgr, rec)
    s = connect(port)
    try:
        s.sendall(b"x")
        poll_until(mgr, lambda: rec.has(MG_EV_CLOSE))
        assert got == {"err": ["custom failure"], "closing": True}
        conn = rec.conns_with(MG_EV_CLOSE)[0]
        assert rec.seq(conn)[-3:] == [MG_EV_READ, MG_EV_ERROR, MG_EV_CLOSE], rec.names(conn)
        s.settimeout(10)
        assert s.recv(10) == b""
    finally:
        s.close()
