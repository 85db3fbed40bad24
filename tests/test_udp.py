"""UDP listeners and clients (docs/api.md 5.4, 5.6, 5.7, 10.2, 12)."""

import os
import socket

import pytest

from pymongoose import (
    MG_EV_CLOSE,
    MG_EV_CONNECT,
    MG_EV_ERROR,
    MG_EV_OPEN,
    MG_EV_READ,
    MG_EV_RESOLVE,
    MG_EV_WRITE,
)

from conftest import WAIT, poll_until, free_refused_port


def udp_peer():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(WAIT)
    return s


def recv_polling(mgr, sock, what="datagram"):
    """Receive one datagram on a blocking-with-timeout socket while polling."""
    sock.setblocking(False)
    box = []

    def ready():
        try:
            box.append(sock.recvfrom(1 << 17))
        except BlockingIOError:
            return False
        return True

    poll_until(mgr, ready, what=what)
    sock.settimeout(WAIT)
    return box[0]


def echo(conn, ev, data):
    if ev == MG_EV_READ:
        conn.send(conn.recv_data())


def test_echo_round_trip_with_python_peer(make_manager, recorder):
    rec = recorder(on=echo)
    mgr = make_manager()
    lst = mgr.listen("udp://127.0.0.1:0", rec)
    assert lst.is_udp and lst.is_listening and not lst.is_client
    port = lst.local_addr[1]
    assert port > 0
    peer = udp_peer()
    try:
        peer.sendto(b"one", ("127.0.0.1", port))
        data, addr = recv_polling(mgr, peer)
        assert data == b"one" and addr == ("127.0.0.1", port)
        assert lst.remote_addr == ("127.0.0.1", peer.getsockname()[1], False)
        # Nothing consumes a UDP receive buffer: the second echo is "onetwo".
        peer.sendto(b"two", ("127.0.0.1", port))
        data, _ = recv_polling(mgr, peer)
        assert data == b"onetwo"
        assert lst.recv_data() == b"onetwo" and lst.recv_len == 6
        assert lst.send_len == 0  # UDP sends are not buffered
    finally:
        peer.close()
    assert MG_EV_WRITE in rec.seq(lst)


def test_engine_client_to_engine_listener(make_manager, recorder):
    srv = recorder(on=echo, name="srv")
    cli = recorder(name="cli")
    mgr = make_manager()
    lst = mgr.listen("udp://127.0.0.1:0", srv)
    port = lst.local_addr[1]
    c = mgr.connect(f"udp://127.0.0.1:{port}", cli)
    # UDP connects at once: OPEN, RESOLVE, CONNECT inside connect()
    assert cli.seq(c) == [MG_EV_OPEN, MG_EV_RESOLVE, MG_EV_CONNECT]
    assert c.is_udp and c.is_client and not c.is_listening
    assert c.remote_addr == ("127.0.0.1", port, False)
    c.send(b"hello")
    # the datagram leaves immediately: MG_EV_WRITE fires inside send()
    assert cli.seq(c)[-1] == MG_EV_WRITE
    assert c.send_len == 0
    assert c.local_addr[0] == "127.0.0.1" and c.local_addr[1] > 0
    poll_until(mgr, lambda: c.recv_data() == b"hello", what="echo")
    assert lst.remote_addr == ("127.0.0.1", c.local_addr[1], False)
    c.send(b" world")
    poll_until(mgr, lambda: c.recv_data() == b"hellohello world", what="second echo")
    assert cli.count(MG_EV_READ, c) >= 2


def test_replies_go_to_last_sender(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    lst = mgr.listen("udp://127.0.0.1:0", rec)
    port = lst.local_addr[1]
    a, b = udp_peer(), udp_peer()
    try:
        a.sendto(b"from-a", ("127.0.0.1", port))
        poll_until(mgr, lambda: lst.recv_len == 6)
        b.sendto(b"from-b", ("127.0.0.1", port))
        poll_until(mgr, lambda: lst.recv_len == 12)
        assert lst.recv_data() == b"from-afrom-b"
        assert lst.remote_addr == ("127.0.0.1", b.getsockname()[1], False)
        lst.send(b"reply")
        assert b.recvfrom(100)[0] == b"reply"
        a.setblocking(False)
        with pytest.raises(BlockingIOError):
            a.recvfrom(100)
    finally:
        a.close()
        b.close()


def test_client_to_python_server(make_manager, recorder):
    cli = recorder()
    mgr = make_manager()
    server = udp_peer()
    try:
        sport = server.getsockname()[1]
        c = mgr.connect(f"udp://127.0.0.1:{sport}", cli)
        c.send(b"q1")
        data, addr = server.recvfrom(100)
        assert data == b"q1" and addr[1] == c.local_addr[1]
        server.sendto(b"r1", addr)
        server.sendto(b"r2", addr)
        poll_until(mgr, lambda: c.recv_data() == b"r1r2")
    finally:
        server.close()


def test_large_datagram_intact(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    lst = mgr.listen("udp://127.0.0.1:0", rec)
    c = mgr.connect(f"udp://127.0.0.1:{lst.local_addr[1]}", rec)
    payload = os.urandom(60000)
    c.send(payload)
    poll_until(mgr, lambda: lst.recv_len == len(payload))
    assert lst.recv_data() == payload


def test_empty_send_raises(make_manager):
    mgr = make_manager()
    lst = mgr.listen("udp://127.0.0.1:0")
    c = mgr.connect(f"udp://127.0.0.1:{lst.local_addr[1]}")
    with pytest.raises(RuntimeError, match="mg_send failed"):
        c.send(b"")
    # a listener that never heard from anyone has nowhere to send to
    with pytest.raises(RuntimeError, match="mg_send failed"):
        lst.send(b"x")


def test_max_recv_size_applies(make_manager, recorder):
    rec = recorder()
    mgr = make_manager(max_recv_size=1000)
    lst = mgr.listen("udp://127.0.0.1:0", rec)
    peer = udp_peer()
    try:
        for _ in range(3):
            peer.sendto(b"x" * 600, ("127.0.0.1", lst.local_addr[1]))
            mgr.poll(5)
        poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, lst))
    finally:
        peer.close()
    assert rec.data_of(MG_EV_ERROR, lst) == ["MG_MAX_RECV_SIZE"]


def test_client_to_closed_port_fails(make_manager, recorder):
    cli = recorder()
    mgr = make_manager()
    c = mgr.connect(f"udp://127.0.0.1:{free_refused_port()}", cli)
    c.send(b"anyone?")
    poll_until(mgr, lambda: cli.has(MG_EV_CLOSE, c), what="ICMP port unreachable")
    assert cli.data_of(MG_EV_ERROR, c) == ["socket error"]


def test_udp_listener_with_localhost_and_handler(make_manager, recorder):
    rec = recorder(on=echo)
    mgr = make_manager()
    lst = mgr.listen("udp://localhost:0", rec)
    assert lst.local_addr[0] == "127.0.0.1"
    c = mgr.connect(f"udp://localhost:{lst.local_addr[1]}", rec)
    c.send(b"ping")
    poll_until(mgr, lambda: c.recv_data() == b"ping")
    c.close()
    lst.close()
    assert rec.seq(lst)[-1] == MG_EV_CLOSE and rec.seq(c)[-1] == MG_EV_CLOSE
