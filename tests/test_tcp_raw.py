"""Raw TCP connections: events, unconsumed receive buffer, echo, outbound (API 2.7, 5.6, 6.4, 7)."""

import socket

from pymongoose import (
    MG_EV_ACCEPT,
    MG_EV_CLOSE,
    MG_EV_CONNECT,
    MG_EV_ERROR,
    MG_EV_HTTP_HDRS,
    MG_EV_HTTP_MSG,
    MG_EV_OPEN,
    MG_EV_READ,
    MG_EV_WRITE,
)

from conftest import (
    Client,
    assert_same_bytes,
    connect,
    poll_until,
    recv_all,
    recv_exact,
    run_client,
    tcp_listen,
)


def test_tcp_server_event_sequence(make_manager, recorder):
    """API 2.7: OPEN, ACCEPT, READ(5), READ(10), CLOSE with no ERROR."""
    lens = []

    def on(c, ev, d):
        if ev == MG_EV_READ:
            lens.append(c.recv_len)

    rec = recorder(on)
    mgr = make_manager()
    _, port = tcp_listen(mgr, rec)
    s = connect(port)
    s.sendall(b"hello")
    poll_until(mgr, lambda: lens)
    s.sendall(b"world")
    poll_until(mgr, lambda: lens[-1] == 10)
    s.close()
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE))
    conn = rec.conns_with(MG_EV_ACCEPT)[0]
    assert rec.seq(conn) == [MG_EV_OPEN, MG_EV_ACCEPT, MG_EV_READ, MG_EV_READ, MG_EV_CLOSE]
    assert lens == [5, 10]
    assert not rec.has(MG_EV_ERROR)


def test_echo_of_recv_data_resends_history(make_manager, recorder):
    """Raw receive buffers are never consumed (API 5.6)."""

    def on(c, ev, d):
        if ev == MG_EV_READ:
            c.send(c.recv_data())

    rec = recorder(on)
    mgr = make_manager()
    _, port = tcp_listen(mgr, rec)
    s = connect(port)
    try:
        s.sendall(b"one")
        assert run_client(mgr, recv_exact, s, 3) == b"one"
        s.sendall(b"two")
        assert run_client(mgr, recv_exact, s, 6) == b"onetwo"
    finally:
        s.close()


def test_http_url_with_http_false_is_raw_tcp(make_manager, recorder):
    # http=None (the default) would infer HTTP from the scheme (docs/api.md 19.1)
    rec = recorder()
    mgr = make_manager()
    lst = mgr.listen("http://127.0.0.1:0", rec, http=False)
    s = connect(lst.local_addr[1])
    try:
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        poll_until(mgr, lambda: rec.has(MG_EV_READ))
        for _ in range(3):
            mgr.poll(10)
        assert not rec.has(MG_EV_HTTP_HDRS) and not rec.has(MG_EV_HTTP_MSG)
        c = rec.conns_with(MG_EV_READ)[0]
        assert c.recv_data() == b"GET / HTTP/1.1\r\n\r\n"
    finally:
        s.close()


def test_peer_close_gives_close_without_error(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    _, port = tcp_listen(mgr, rec)
    s = connect(port)
    poll_until(mgr, lambda: rec.has(MG_EV_ACCEPT))
    s.close()
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE))
    assert not rec.has(MG_EV_ERROR)


def test_outbound_connection_round_trip(make_manager, recorder):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    got = []

    def on(c, ev, d):
        if ev == MG_EV_CONNECT:
            c.send(b"ping")
        elif ev == MG_EV_READ:
            got.append(c.recv_data())

    def server():
        peer, _ = srv.accept()
        peer.settimeout(10)
        data = recv_exact(peer, 4)
        peer.sendall(b"pong:" + data)
        return peer

    rec = recorder(on)
    mgr = make_manager()
    try:
        th = Client(server)
        c = mgr.connect(f"tcp://127.0.0.1:{port}", rec)
        poll_until(mgr, lambda: got and got[-1] == b"pong:ping")
        assert rec.seq(c)[:4] == [MG_EV_OPEN, 3, MG_EV_CONNECT, MG_EV_WRITE]
        poll_until(mgr, lambda: th.done)
        th.result().close()
        poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, c))
    finally:
        srv.close()


def test_half_close_raw_tcp_keeps_queued_output(make_manager, recorder):
    """After the peer's half-close a non-draining connection still writes its
    whole queue, then closes (API 6.4)."""
    payload = bytes(range(256)) * (8 * 1024 * 1024 // 256)

    def on(c, ev, d):
        if ev == MG_EV_READ and c.recv_data() == b"give":
            c.send(payload)

    rec = recorder(on)
    mgr = make_manager()
    _, port = tcp_listen(mgr, rec)

    def client():
        s = connect(port, timeout=30)
        s.sendall(b"give")
        s.shutdown(socket.SHUT_WR)
        data = recv_all(s)
        s.close()
        return data

    got = run_client(mgr, client, timeout=30)
    assert_same_bytes(got, payload)
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE))


def test_many_connections_are_independent(make_manager, recorder):
    def on(c, ev, d):
        if ev == MG_EV_READ and c.recv_data().endswith(b"\n"):
            c.send(c.recv_data().upper())
            c.drain()

    rec = recorder(on)
    mgr = make_manager()
    _, port = tcp_listen(mgr, rec)

    def client(i):
        s = connect(port)
        s.sendall(f"client {i}\n".encode())
        data = recv_all(s)
        s.close()
        return data

    clients = [Client(client, i) for i in range(20)]
    poll_until(mgr, lambda: all(cl.done for cl in clients))
    assert [cl.result() for cl in clients] == [f"CLIENT {i}\n".encode() for i in range(20)]
