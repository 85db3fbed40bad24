"""Host names in listen/connect, Connection.resolve/resolve_cancel
(docs/api.md 10.1, 10.2, 5.11, 2.7).  Names come from /etc/hosts or are
guaranteed not to exist, so nothing needs a network."""

import socket

import pytest

from pymongoose import (
    MG_EV_ACCEPT,
    MG_EV_CLOSE,
    MG_EV_CONNECT,
    MG_EV_ERROR,
    MG_EV_OPEN,
    MG_EV_READ,
    MG_EV_RESOLVE,
    Connection,
)

from conftest import WAIT, free_refused_port, poll_until, tcp_listen

# A failing lookup may take the system resolver's own timeouts when there
# is no network at all.
DNS_WAIT = 90.0


def _bindable(ip):
    s = socket.socket()
    try:
        s.bind((ip, 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _hosts_name():
    """(name, ip): a name other than localhost that /etc/hosts maps to an
    IPv4 address of this machine (127.0.0.1 preferred; in a container the
    host name's own address does too), or None."""
    try:
        with open("/etc/hosts") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    found = []
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2 or ":" in fields[0]:
            continue
        for name in fields[1:]:
            if name.lower() != "localhost":
                found.append((name, fields[0]))
    found.sort(key=lambda f: f[1] != "127.0.0.1")
    for name, ip in found:
        try:
            addrs = {a[4][0] for a in socket.getaddrinfo(name, 80, socket.AF_INET)}
        except OSError:
            continue
        if ip in addrs and _bindable(ip):
            return name, ip
    return None


HOSTS = _hosts_name()
HOST_NAME, HOST_IP = HOSTS or (None, None)

needs_hosts_name = pytest.mark.skipif(
    HOSTS is None, reason="no name other than localhost for a local address in /etc/hosts")


def name_listen(mgr, handler):
    """TCP listener on the address HOST_NAME resolves to; returns its port."""
    lst = mgr.listen(f"tcp://{HOST_IP}:0", handler)
    return lst.local_addr[1]


def test_connect_localhost_offline(make_manager, recorder):
    srv = recorder(name="srv")
    cli = recorder(name="cli")
    mgr = make_manager()
    lst, port = tcp_listen(mgr, srv)
    c = mgr.connect(f"tcp://localhost:{port}", cli)
    # localhost needs no lookup: MG_EV_RESOLVE fires inside connect()
    assert cli.seq(c) == [MG_EV_OPEN, MG_EV_RESOLVE]
    assert c.remote_addr == ("127.0.0.1", port, False)
    poll_until(mgr, lambda: cli.has(MG_EV_CONNECT, c) and srv.has(MG_EV_ACCEPT), what="connect")
    c.send(b"ping")
    poll_until(mgr, lambda: any(a.recv_data() == b"ping" for a in srv.conns_with(MG_EV_ACCEPT)))
    assert cli.seq(c)[:3] == [MG_EV_OPEN, MG_EV_RESOLVE, MG_EV_CONNECT]


def test_localhost_any_case(make_manager, recorder):
    cli = recorder()
    mgr = make_manager()
    lst, port = tcp_listen(mgr, None)
    c = mgr.connect(f"tcp://LocalHost:{port}", cli)
    assert cli.seq(c) == [MG_EV_OPEN, MG_EV_RESOLVE]
    poll_until(mgr, lambda: cli.has(MG_EV_CONNECT, c))


def test_nonexistent_name_gives_dns_error(make_manager, recorder):
    cli = recorder()
    mgr = make_manager()
    c = mgr.connect("tcp://nonexistent.invalid:80", cli)
    # resolved away from the poll thread: only MG_EV_OPEN inside connect()
    assert cli.seq(c) == [MG_EV_OPEN]
    poll_until(mgr, lambda: cli.has(MG_EV_CLOSE, c), timeout=DNS_WAIT, what="DNS failure")
    assert cli.seq(c) == [MG_EV_OPEN, MG_EV_ERROR, MG_EV_CLOSE]
    (text,) = cli.data_of(MG_EV_ERROR, c)
    assert isinstance(text, str) and "DNS" in text
    assert repr(c) == "<Connection closed>"  # closed wrapper


def test_many_failing_lookups_in_parallel(make_manager, recorder):
    cli = recorder()
    mgr = make_manager()
    conns = [mgr.connect(f"tcp://host{i}.nonexistent.invalid:80", cli) for i in range(20)]
    poll_until(mgr, lambda: all(cli.has(MG_EV_CLOSE, c) for c in conns), timeout=DNS_WAIT)
    for c in conns:
        assert cli.seq(c) == [MG_EV_OPEN, MG_EV_ERROR, MG_EV_CLOSE]


@needs_hosts_name
def test_hosts_name_resolved_later(make_manager, recorder):
    cli = recorder()
    mgr = make_manager()
    port = name_listen(mgr, None)
    seen = {}

    def on(conn, ev, data):
        if ev == MG_EV_RESOLVE:
            seen["remote"] = conn.remote_addr

    cli.on = on
    c = mgr.connect(f"tcp://{HOST_NAME}:{port}", cli)
    assert cli.seq(c) == [MG_EV_OPEN]
    assert c.remote_addr[1] == port  # the port is known before the lookup
    poll_until(mgr, lambda: cli.has(MG_EV_CONNECT, c) or cli.has(MG_EV_CLOSE, c))
    assert cli.seq(c) == [MG_EV_OPEN, MG_EV_RESOLVE, MG_EV_CONNECT]
    assert seen["remote"] == (HOST_IP, port, False)


@needs_hosts_name
def test_default_handler_gets_async_resolve(make_manager, recorder):
    rec = recorder()
    mgr = make_manager(rec)
    port = name_listen(mgr, None)
    c = mgr.connect(f"tcp://{HOST_NAME}:{port}")
    poll_until(mgr, lambda: rec.has(MG_EV_CONNECT, c) or rec.has(MG_EV_CLOSE, c))
    assert rec.seq(c) == [MG_EV_OPEN, MG_EV_RESOLVE, MG_EV_CONNECT]


@needs_hosts_name
def test_close_while_resolving(make_manager, recorder):
    cli = recorder()
    mgr = make_manager()
    port = name_listen(mgr, None)
    c = mgr.connect(f"tcp://{HOST_NAME}:{port}", cli)
    c.close()
    assert cli.seq(c) == [MG_EV_OPEN, MG_EV_CLOSE]
    for _ in range(20):
        mgr.poll(5)
    assert cli.seq(c) == [MG_EV_OPEN, MG_EV_CLOSE]


@needs_hosts_name
def test_manager_close_while_resolving(make_manager, recorder):
    cli = recorder()
    mgr = make_manager()
    c = mgr.connect(f"tcp://{HOST_NAME}:1", cli)
    mgr.close()
    assert cli.seq(c) == [MG_EV_OPEN, MG_EV_CLOSE]


@needs_hosts_name
def test_listen_on_hosts_name(make_manager, recorder):
    mgr = make_manager()
    lst = mgr.listen(f"tcp://{HOST_NAME}:0", None)
    ip, port, _ = lst.local_addr
    assert ip == HOST_IP and port > 0
    s = socket.create_connection((HOST_IP, port), timeout=WAIT)
    s.close()


def test_listen_on_nonexistent_name_raises(make_manager):
    mgr = make_manager()
    url = "tcp://nonexistent.invalid:0"
    with pytest.raises(RuntimeError) as ei:
        mgr.listen(url)
    assert str(ei.value) == f"Failed to listen on '{url}'"


# --------------------------------------------------------------------------
# Connection.resolve / resolve_cancel
# --------------------------------------------------------------------------


def test_resolve_retargets_client(make_manager, recorder):
    srv = recorder(name="srv")
    cli = recorder(name="cli")
    mgr = make_manager()
    lst, port = tcp_listen(mgr, srv)
    c = mgr.connect(f"tcp://127.0.0.1:{free_refused_port()}", cli)
    assert c.resolve(f"tcp://127.0.0.1:{port}") is None
    assert cli.seq(c) == [MG_EV_OPEN, MG_EV_RESOLVE, MG_EV_RESOLVE]
    assert c.remote_addr == ("127.0.0.1", port, False)
    poll_until(mgr, lambda: cli.has(MG_EV_CONNECT, c) or cli.has(MG_EV_CLOSE, c))
    assert cli.seq(c) == [MG_EV_OPEN, MG_EV_RESOLVE, MG_EV_RESOLVE, MG_EV_CONNECT]
    poll_until(mgr, lambda: srv.has(MG_EV_ACCEPT))


def test_resolve_accepts_keyword(make_manager, recorder):
    cli = recorder()
    mgr = make_manager()
    lst, port = tcp_listen(mgr, None)
    c = mgr.connect(f"tcp://127.0.0.1:{free_refused_port()}", cli)
    c.resolve(url=f"tcp://localhost:{port}")
    poll_until(mgr, lambda: cli.has(MG_EV_CONNECT, c) or cli.has(MG_EV_CLOSE, c))
    assert cli.has(MG_EV_CONNECT, c)


def test_resolve_nonexistent_name(make_manager, recorder):
    cli = recorder()
    mgr = make_manager()
    lst, port = tcp_listen(mgr, None)
    c = mgr.connect(f"tcp://127.0.0.1:{port}", cli)
    c.resolve("tcp://nonexistent.invalid:80")
    poll_until(mgr, lambda: cli.has(MG_EV_CLOSE, c), timeout=DNS_WAIT)
    assert cli.seq(c) == [MG_EV_OPEN, MG_EV_RESOLVE, MG_EV_ERROR, MG_EV_CLOSE]
    assert "DNS" in cli.data_of(MG_EV_ERROR, c)[0]


@needs_hosts_name
def test_resolve_cancel_delivers_nothing(make_manager, recorder):
    cli = recorder()
    mgr = make_manager()
    port = name_listen(mgr, None)
    c = mgr.connect(f"tcp://{HOST_NAME}:{port}", cli)
    assert c.resolve_cancel() is None
    # A later sentinel connection through the same resolver proves that the
    # cancelled lookup had time to answer.
    probe = recorder(name="probe")
    p = mgr.connect(f"tcp://{HOST_NAME}:{port}", probe)
    poll_until(mgr, lambda: probe.has(MG_EV_CONNECT, p) or probe.has(MG_EV_CLOSE, p))
    for _ in range(10):
        mgr.poll(5)
    assert cli.seq(c) == [MG_EV_OPEN]
    assert c.id != 0 and not c.is_closing
    c.resolve_cancel()  # nothing pending: still fine
    # resolve() after a cancel starts over
    c.resolve(f"tcp://{HOST_IP}:{port}")
    poll_until(mgr, lambda: cli.has(MG_EV_CONNECT, c) or cli.has(MG_EV_CLOSE, c))
    assert cli.seq(c) == [MG_EV_OPEN, MG_EV_RESOLVE, MG_EV_CONNECT]


def test_resolve_cancel_without_lookup_is_harmless(make_manager, recorder):
    cli = recorder()
    mgr = make_manager()
    lst, port = tcp_listen(mgr, None)
    c = mgr.connect(f"tcp://127.0.0.1:{port}", cli)
    c.resolve_cancel()
    poll_until(mgr, lambda: cli.has(MG_EV_CONNECT, c))


def test_resolve_on_udp_listener_sets_reply_address(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    lst = mgr.listen("udp://127.0.0.1:0", rec)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(WAIT)
    try:
        pport = peer.getsockname()[1]
        lst.resolve(f"udp://127.0.0.1:{pport}")
        assert lst.remote_addr == ("127.0.0.1", pport, False)
        assert rec.seq(lst) == [MG_EV_OPEN, MG_EV_RESOLVE]
        assert not lst.is_closing
        lst.send(b"hello peer")
        assert peer.recvfrom(100)[0] == b"hello peer"
    finally:
        peer.close()


def test_resolve_methods_on_closed_wrapper(make_manager):
    c = Connection()
    with pytest.raises(TypeError):
        c.resolve(b"tcp://127.0.0.1:1")
    with pytest.raises(TypeError):
        c.resolve(None)
    with pytest.raises(RuntimeError, match="Connection has been closed"):
        c.resolve("tcp://127.0.0.1:1")
    with pytest.raises(RuntimeError, match="Connection has been closed"):
        c.resolve_cancel()
    mgr = make_manager()
    lst, port = tcp_listen(mgr, None)
    d = mgr.connect(f"tcp://127.0.0.1:{port}")
    d.close()
    with pytest.raises(TypeError):
        d.resolve(1)
    with pytest.raises(RuntimeError, match="Connection has been closed"):
        d.resolve(f"tcp://127.0.0.1:{port}")
    with pytest.raises(RuntimeError, match="Connection has been closed"):
        d.resolve_cancel()


def test_resolve_from_handler_and_exception_safety(make_manager, recorder):
    """A handler raising in MG_EV_RESOLVE does not stop the connect."""
    cli = recorder()
    mgr = make_manager()
    lst, port = tcp_listen(mgr, None)
    calls = []

    def on(conn, ev, data):
        if ev == MG_EV_RESOLVE:
            calls.append(1)
            raise ValueError("handler error")

    cli.on = on
    c = mgr.connect(f"tcp://localhost:{port}", cli)
    poll_until(mgr, lambda: cli.has(MG_EV_CONNECT, c) or cli.has(MG_EV_CLOSE, c))
    assert calls == [1] and cli.has(MG_EV_CONNECT, c)
    c.send(b"x")
    poll_until(mgr, lambda: c.send_len == 0)
    assert not cli.has(MG_EV_READ, c)
