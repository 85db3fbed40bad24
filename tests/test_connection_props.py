"""Connection identity, state, address and buffer properties (API 5.1-5.6, 13)."""

import re
import socket

import pytest

from pymongoose import (
    MG_EV_ACCEPT,
    MG_EV_CLOSE,
    MG_EV_CONNECT,
    MG_EV_HTTP_MSG,
    MG_EV_READ,
    MG_EV_RESOLVE,
    Connection,
)

from conftest import (
    connect,
    http_listen,
    poll_until,
    recv_exact,
    run_client,
    tcp_listen,
)

BIGSEND = 16 * 1024 * 1024  # more than the kernel buffers can absorb
V6_LOOPBACK = "0000:0000:0000:0000:0000:0000:0000:0001"


def accept_one(mgr, rec, port, family=socket.AF_INET, host="127.0.0.1"):
    s = connect(port, host=host, family=family)
    poll_until(mgr, lambda: rec.has(MG_EV_ACCEPT))
    return s, rec.conns_with(MG_EV_ACCEPT)[-1]


def test_ids_start_at_1_increase_and_are_never_reused(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    lst, port = tcp_listen(mgr, rec)
    assert lst.id == 1
    seen = [lst.id]
    for _ in range(3):
        s = connect(port)
        n = rec.count(MG_EV_ACCEPT)
        poll_until(mgr, lambda: rec.count(MG_EV_ACCEPT) == n + 1)
        c = rec.conns_with(MG_EV_ACCEPT)[-1]
        seen.append(c.id)
        c.close()
        s.close()
    assert seen == sorted(seen) and len(set(seen)) == 4
    assert seen[1] > 1
    lst2 = mgr.listen("tcp://127.0.0.1:0", rec)
    assert lst2.id > seen[-1]


def test_wakeup_channel_takes_id_1(make_manager, recorder):
    mgr = make_manager(None, True)
    lst = mgr.listen("tcp://127.0.0.1:0")
    assert lst.id == 2


def test_listener_properties_and_real_port(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    lst = mgr.listen("tcp://127.0.0.1:0", rec)
    ip, port, v6 = lst.local_addr
    assert (ip, v6) == ("127.0.0.1", False)
    assert isinstance(port, int) and 0 < port < 65536
    assert lst.remote_addr == ("0.0.0.0", 0, False)
    assert lst.is_listening and not lst.is_client and not lst.is_udp
    assert not lst.is_tls and not lst.is_websocket and not lst.is_draining
    assert not lst.is_closing and not lst.is_full
    # the port is real: a client can connect to it
    s = connect(port)
    try:
        poll_until(mgr, lambda: rec.has(MG_EV_ACCEPT))
    finally:
        s.close()


def test_accepted_connection_addresses(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    lst, port = tcp_listen(mgr, rec)
    s, c = accept_one(mgr, rec, port)
    try:
        assert c.local_addr == ("127.0.0.1", port, False)
        cip, cport = s.getsockname()
        assert c.remote_addr == (cip, cport, False)
        assert not c.is_listening and not c.is_client and not c.is_udp
    finally:
        s.close()


def test_wildcard_listener_children_report_their_real_address(make_manager, recorder):
    # docs/api.md 19.1: an accepted connection's local_addr is its own address,
    # not a copy of the listener's wildcard bind address (the 0.1.4 rule).
    rec = recorder()
    mgr = make_manager()
    lst = mgr.listen("tcp://0.0.0.0:0", rec)
    port = lst.local_addr[1]
    assert lst.local_addr == ("0.0.0.0", port, False)
    s, c = accept_one(mgr, rec, port)
    try:
        assert c.local_addr == ("127.0.0.1", port, False)
        assert c.local_addr[:2] == s.getpeername()
    finally:
        s.close()


def test_outbound_connection_addresses(make_manager, recorder):
    srv_rec = recorder(name="srv")
    cli_rec = recorder(name="cli")
    mgr = make_manager()
    _, port = tcp_listen(mgr, srv_rec)
    at_resolve = []

    def on(c, ev, d):
        cli_rec(c, ev, d)
        if ev == MG_EV_RESOLVE:
            at_resolve.append(c.remote_addr)

    c = mgr.connect(f"tcp://127.0.0.1:{port}", on)
    assert c.is_client and not c.is_listening
    poll_until(mgr, lambda: cli_rec.has(MG_EV_CONNECT) and srv_rec.has(MG_EV_ACCEPT))
    assert at_resolve == [("127.0.0.1", port, False)]
    assert c.remote_addr == ("127.0.0.1", port, False)
    peer = srv_rec.conns_with(MG_EV_ACCEPT)[0]
    assert c.local_addr == peer.remote_addr
    assert c.local_addr[0] == "127.0.0.1" and c.local_addr[1] > 0


def test_localhost_maps_to_127_0_0_1(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    lst = mgr.listen("tcp://localhost:0", rec)
    assert lst.local_addr[0] == "127.0.0.1"


def test_ipv6_loopback_listen_and_addresses(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    lst = mgr.listen("tcp://[::1]:0", rec)
    ip, port, v6 = lst.local_addr
    assert (ip, v6) == (V6_LOOPBACK, True)
    assert port > 0
    s, c = accept_one(mgr, rec, port, family=socket.AF_INET6, host="::1")
    try:
        assert c.local_addr == (V6_LOOPBACK, port, True)
        assert c.remote_addr == (V6_LOOPBACK, s.getsockname()[1], True)
    finally:
        s.close()


def test_ipv6_outbound_connect(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    lst = mgr.listen("tcp://[::1]:0", rec)
    port = lst.local_addr[1]
    cli = recorder(name="cli")
    c = mgr.connect(f"tcp://[::1]:{port}", cli)
    poll_until(mgr, lambda: cli.has(MG_EV_CONNECT))
    assert c.remote_addr == (V6_LOOPBACK, port, True)
    assert c.local_addr[0] == V6_LOOPBACK and c.local_addr[2] is True


def test_repr_of_open_connection(make_manager, recorder):
    reprs = []

    def on(c, ev, d):
        if ev == MG_EV_READ:
            reprs.append((repr(c), c.id, c.is_readable))

    rec = recorder(on)
    mgr = make_manager()
    _, port = tcp_listen(mgr, rec)
    s = connect(port)
    try:
        s.sendall(b"x")
        poll_until(mgr, lambda: reprs)
        r, cid, readable = reprs[0]
        assert readable is True
        m = re.fullmatch(r"<Connection id=(\d+) readable=(True|False) writable=(True|False)>", r)
        assert m, r
        assert int(m.group(1)) == cid and m.group(2) == "True"
    finally:
        s.close()


STATE_FLAGS = ("is_readable", "is_writable", "is_full", "is_draining")
IDENTITY = ("id", "is_listening", "is_client", "is_tls", "is_udp", "is_websocket", "local_addr", "remote_addr")


def identity(c):
    return {name: getattr(c, name) for name in IDENTITY}


def assert_closed_keeps_identity(c, was):
    """A closed wrapper reports what it was; its state reads closed; actions raise."""
    assert identity(c) == was
    assert c.is_closing is True
    for name in STATE_FLAGS:
        assert getattr(c, name) is False, name
    assert (c.recv_len, c.send_len, c.recv_size, c.send_size) == (0, 0, 0, 0)
    assert c.recv_data() == b"" and c.send_data() == b""
    assert repr(c) == "<Connection closed>"
    for action in (lambda: c.send(b"x"), lambda: c.reply(200, b""), lambda: c.http_chunk(b"x"),
                   lambda: c.error("x")):
        with pytest.raises(RuntimeError, match="Connection has been closed"):
            action()
    c.drain()  # no-ops once closed
    c.close()


def test_closed_accepted_connection_keeps_what_it_was(make_manager, recorder):
    seen = {}
    rec = recorder(on=lambda c, ev, d: seen.setdefault(c, identity(c)) if ev == MG_EV_READ else None)
    mgr = make_manager()
    _, port = tcp_listen(mgr, rec)
    s, c = accept_one(mgr, rec, port)
    s.sendall(b"x")
    poll_until(mgr, lambda: c in seen)
    s.close()
    c.userdata = "kept"
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, c))
    was = seen[c]
    assert was["id"] > 0 and not was["is_client"] and was["remote_addr"][0] == "127.0.0.1"
    assert_closed_keeps_identity(c, was)
    assert c.userdata == "kept"
    c.userdata = 5
    assert c.userdata == 5
    assert c.handler is rec
    c.set_handler(None)
    assert c.handler is None


def test_closed_client_and_listener_keep_what_they_were(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    lst, port = tcp_listen(mgr, rec)
    client = mgr.connect(f"tcp://127.0.0.1:{port}", rec)
    poll_until(mgr, lambda: rec.has(MG_EV_CONNECT, client) and rec.has(MG_EV_ACCEPT))
    was_client, was_listener = identity(client), identity(lst)
    assert was_client["is_client"] and was_client["remote_addr"] == ("127.0.0.1", port, False)
    assert was_listener["is_listening"] and was_listener["local_addr"][1] == port
    client.close()  # MG_EV_CLOSE before close() returns
    assert rec.has(MG_EV_CLOSE, client)
    assert_closed_keeps_identity(client, was_client)
    lst.close()
    assert_closed_keeps_identity(lst, was_listener)


def test_closed_udp_connection_keeps_what_it_was(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    c = mgr.connect("udp://127.0.0.1:9", rec)  # UDP: nothing is sent, nobody needs to listen
    poll_until(mgr, lambda: rec.has(MG_EV_CONNECT, c))
    was = identity(c)
    assert was["is_udp"] and was["is_client"]
    mgr.close()
    assert rec.has(MG_EV_CLOSE, c)
    assert_closed_keeps_identity(c, was)


def test_directly_constructed_connection_reads_closed():
    c = Connection()
    assert c.id == 0 and c.is_closing is True
    for name in ("is_listening", "is_client", "is_tls", "is_udp", "is_websocket", *STATE_FLAGS):
        assert getattr(c, name) is False, name
    assert c.local_addr is None and c.remote_addr is None


def test_userdata_and_handler_defaults(make_manager, recorder):
    mgr = make_manager()
    lst = mgr.listen("tcp://127.0.0.1:0")
    assert lst.userdata is None
    assert lst.handler is None
    lst.set_handler(42)  # not validated
    assert lst.handler == 42
    lst.set_handler(None)
    obj = object()
    lst.userdata = obj
    assert lst.userdata is obj
    assert Connection().userdata is None


def test_raw_receive_buffer_is_never_consumed(make_manager, recorder):
    seen = []

    def on(c, ev, d):
        if ev == MG_EV_READ:
            seen.append((c.recv_len, c.recv_data(), c.recv_data(3), c.recv_data(-1), c.recv_data(100)))

    rec = recorder(on)
    mgr = make_manager()
    _, port = tcp_listen(mgr, rec)
    s = connect(port)
    try:
        s.sendall(b"hello")
        poll_until(mgr, lambda: seen)
        s.sendall(b"world")
        poll_until(mgr, lambda: seen[-1][0] == 10)
        assert seen[0] == (5, b"hello", b"hel", b"hello", b"hello")
        assert seen[-1] == (10, b"helloworld", b"hel", b"helloworld", b"helloworld")
        c = rec.conns_with(MG_EV_READ)[0]
        assert c.recv_size >= 16384 and c.recv_size % 16384 == 0
        with pytest.raises(TypeError):
            c.recv_data("3")
        with pytest.raises(TypeError):
            c.send_data(None)
    finally:
        s.close()


def test_send_buffer_properties(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    _, port = tcp_listen(mgr, rec)
    s, c = accept_one(mgr, rec, port)
    try:
        assert (c.send_len, c.send_data()) == (0, b"")
        c.send(b"a" * 100)
        assert c.send_len == 100
        assert c.send_size == 16384
        c.send(b"b" * 20000)
        assert c.send_len == 20100
        assert c.send_size == 32768
        assert c.send_data(101) == b"a" * 100 + b"b"
        assert run_client(mgr, recv_exact, s, 20100) == b"a" * 100 + b"b" * 20000
        poll_until(mgr, lambda: c.send_len == 0)
        assert c.send_size >= 32768  # does not shrink
    finally:
        s.close()


def _flood(sock, total):
    """Send up to ``total`` bytes in 64 KiB pieces; stop when the peer is gone."""
    sent = 0
    try:
        while sent < total:
            sock.sendall(b"z" * 65536)
            sent += 65536
    except OSError:
        pass
    return sent


def test_recv_limit_closes_raw_connection(make_manager, recorder):
    rec = recorder()
    mgr = make_manager(max_recv_size=65536)
    _, port = tcp_listen(mgr, rec)
    s = connect(port)
    try:
        s.sendall(b"a" * 1000)
        poll_until(mgr, lambda: rec.has(MG_EV_READ))
        c = rec.conns_with(MG_EV_READ)[0]
        run_client(mgr, _flood, s, 8 * 1024 * 1024)
        poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, c))
        assert rec.data_of(0, c) == ["MG_MAX_RECV_SIZE"]
        assert rec.seq(c)[-2:] == [0, MG_EV_CLOSE]
    finally:
        s.close()


def test_default_recv_limit_is_3_mib(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    _, port = tcp_listen(mgr, rec)
    s = connect(port)
    try:
        run_client(mgr, s.sendall, b"a" * 3000000)  # under the limit: still open
        poll_until(mgr, lambda: rec.conns_with(MG_EV_READ) and
                   rec.conns_with(MG_EV_READ)[0].recv_len == 3000000)
        assert not rec.has(MG_EV_CLOSE)
        run_client(mgr, _flood, s, 16 * 1024 * 1024)
        poll_until(mgr, lambda: rec.has(MG_EV_CLOSE))
        assert rec.data_of(0) == ["MG_MAX_RECV_SIZE"]
    finally:
        s.close()


def test_is_full_pauses_reading_above_send_high_water(make_manager, recorder):
    rec = recorder()
    mgr = make_manager(send_high_water=65536)
    _, port = tcp_listen(mgr, rec)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    try:
        poll_until(mgr, lambda: rec.has(MG_EV_ACCEPT))
        c = rec.conns_with(MG_EV_ACCEPT)[0]
        c.send(b"q" * BIGSEND)  # the client does not read yet
        assert c.is_full is True
        for _ in range(10):
            mgr.poll(10)
        assert c.is_full is True
        s.sendall(b"ping")
        for _ in range(10):
            mgr.poll(10)
        assert not rec.has(MG_EV_READ, c), "read while is_full"
        got = run_client(mgr, recv_exact, s, BIGSEND)
        assert got == b"q" * BIGSEND
        poll_until(mgr, lambda: rec.has(MG_EV_READ, c))
        assert c.is_full is False
        assert c.recv_data() == b"ping"
    finally:
        s.close()


def test_http_connection_state_during_request(make_manager, recorder):
    state = []

    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            state.append((c.is_listening, c.is_client, c.is_websocket, c.is_udp, c.recv_len))
            c.reply(200, b"")

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)
    s = connect(port)
    try:
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        poll_until(mgr, lambda: state)
        assert state[0][:4] == (False, False, False, False)
    finally:
        s.close()
