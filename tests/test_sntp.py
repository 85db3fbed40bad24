"""SNTP: Manager.sntp_connect, Connection.sntp_request, MG_EV_SNTP_TIME
(docs/api.md 10.3, 5.11, 15).  The server is a Python UDP socket on loopback
whose clock runs OFFSET seconds ahead of ours, so that the reported time can
only come from its reply."""

import socket
import struct
import threading
import time

import pytest

from pymongoose import (
    MG_EV_CLOSE,
    MG_EV_CONNECT,
    MG_EV_OPEN,
    MG_EV_READ,
    MG_EV_RESOLVE,
    MG_EV_SNTP_TIME,
    MG_EV_WRITE,
    Connection,
    Manager,
)

from conftest import WAIT, poll_until
from test_dns import HOST_IP, HOST_NAME, HOSTS

NTP_DELTA = 2208988800
OFFSET = 86400.0 * 3 + 12.345  # the server's clock is 3 days and 12.345 s ahead


def ntp_stamp(t):
    sec = int(t)
    return struct.pack(">II", sec + NTP_DELTA, int((t - sec) * (1 << 32)))


class SntpServer(threading.Thread):
    """Answers each request with a 48-byte reply built by ``make(request)``
    (default: a valid version 4 server reply)."""

    def __init__(self, make=None, answer=True, host="127.0.0.1"):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"udp://{host}:{self.port}"
        self.make = make or self.valid_reply
        self.answer = answer
        self.requests = []
        self.stop = threading.Event()
        self.start()

    @staticmethod
    def valid_reply(req, version=4, mode=4, stratum=2):
        now = time.time() + OFFSET
        head = bytes([(version << 3) | mode, stratum, 6, 0xEC]) + bytes(12)
        return head + ntp_stamp(now) + req[40:48] + ntp_stamp(now) + ntp_stamp(now)

    def run(self):
        while not self.stop.is_set():
            try:
                req, addr = self.sock.recvfrom(1024)
            except socket.timeout:
                continue
            except OSError:
                return
            self.requests.append(req)
            if self.answer:
                self.sock.sendto(self.make(req), addr)

    def close(self):
        self.stop.set()
        self.join()
        self.sock.close()


@pytest.fixture
def server():
    made = []

    def make(**kw):
        s = SntpServer(**kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def test_time_within_one_second_of_server(make_manager, recorder, server):
    srv = server()
    rec = recorder()
    mgr = make_manager()
    c = mgr.sntp_connect(srv.url, rec)
    assert c.is_udp and c.is_client
    # IP literal: the request goes out inside sntp_connect()
    assert rec.seq(c) == [MG_EV_OPEN, MG_EV_RESOLVE, MG_EV_WRITE, MG_EV_CONNECT]
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, c), what="SNTP reply")
    server_now_ms = (time.time() + OFFSET) * 1000
    assert rec.seq(c) == [MG_EV_OPEN, MG_EV_RESOLVE, MG_EV_WRITE, MG_EV_CONNECT,
                          MG_EV_SNTP_TIME, MG_EV_READ, MG_EV_CLOSE]
    (ms,) = rec.data_of(MG_EV_SNTP_TIME, c)
    assert type(ms) is int
    assert abs(ms - server_now_ms) < 1000, (ms, server_now_ms)
    assert len(srv.requests) == 1


def test_request_format(make_manager, server):
    srv = server(answer=False)
    mgr = make_manager()
    before = time.time()
    c = mgr.sntp_connect(srv.url)
    poll_until(mgr, lambda: srv.requests, what="request")
    after = time.time()
    (req,) = srv.requests
    assert len(req) == 48
    assert req[0] == (4 << 3) | 3  # LI 0, version 4, client mode
    assert req[1:40] == bytes(39)
    sec, frac = struct.unpack(">II", req[40:48])
    t = sec - NTP_DELTA + frac / (1 << 32)
    assert before - 1 <= t <= after + 1  # transmit timestamp = local clock
    c.close()


def test_sntp_request_sends_another(make_manager, recorder, server):
    srv = server(answer=False)
    rec = recorder()
    mgr = make_manager()
    c = mgr.sntp_connect(srv.url, rec)
    assert c.sntp_request() is None
    assert rec.seq(c)[-1] == MG_EV_WRITE  # UDP: sent at once
    poll_until(mgr, lambda: len(srv.requests) == 2, what="two requests")
    assert all(len(r) == 48 for r in srv.requests)
    c.close()


@pytest.mark.parametrize("name,make", [
    ("kiss of death", lambda req: SntpServer.valid_reply(req, stratum=0)),
    ("client mode", lambda req: SntpServer.valid_reply(req, mode=3)),
    ("version 2", lambda req: SntpServer.valid_reply(req, version=2)),
    ("short", lambda req: SntpServer.valid_reply(req)[:47]),
])
def test_invalid_reply_closes_without_time(make_manager, recorder, server, name, make):
    srv = server(make=make)
    rec = recorder()
    mgr = make_manager()
    c = mgr.sntp_connect(srv.url, rec)
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, c))
    assert not rec.has(MG_EV_SNTP_TIME, c)
    assert rec.seq(c)[-2:] == [MG_EV_READ, MG_EV_CLOSE]


@pytest.mark.parametrize("version,mode", [(3, 4), (4, 5)])
def test_other_valid_replies(make_manager, recorder, server, version, mode):
    srv = server(make=lambda req: SntpServer.valid_reply(req, version=version, mode=mode))
    rec = recorder()
    mgr = make_manager()
    c = mgr.sntp_connect(srv.url, rec)
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, c))
    (ms,) = rec.data_of(MG_EV_SNTP_TIME, c)
    assert abs(ms - (time.time() + OFFSET) * 1000) < 1000


def test_no_answer_closes_after_lifetime(make_manager, recorder, server):
    srv = server(answer=False)
    rec = recorder()
    mgr = make_manager()
    c = mgr.sntp_connect(srv.url, rec)
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, c), what="3 s lifetime")
    assert rec.seq(c) == [MG_EV_OPEN, MG_EV_RESOLVE, MG_EV_WRITE, MG_EV_CONNECT, MG_EV_CLOSE]


def test_default_handler_and_time_in_handler(make_manager, recorder, server):
    srv = server()
    got = []

    def on(conn, ev, data):
        if ev == MG_EV_SNTP_TIME:
            got.append((data, conn.is_closing))

    rec = recorder(on=on)
    mgr = make_manager(rec)
    c = mgr.sntp_connect(srv.url)
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, c))
    assert len(got) == 1 and got[0][1] is False  # closing is set after the event


def test_handler_closing_in_sntp_time(make_manager, recorder, server):
    srv = server()
    rec = recorder(on=lambda conn, ev, data: ev == MG_EV_SNTP_TIME and conn.close())
    mgr = make_manager()
    c = mgr.sntp_connect(srv.url, rec)
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, c))
    assert rec.seq(c)[-2:] == [MG_EV_SNTP_TIME, MG_EV_CLOSE]


def test_localhost_url(make_manager, recorder, server):
    srv = server()
    rec = recorder()
    mgr = make_manager()
    c = mgr.sntp_connect(f"udp://localhost:{srv.port}", rec)
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, c))
    assert rec.has(MG_EV_SNTP_TIME, c)


def test_sntp_request_on_plain_udp_connection(make_manager):
    mgr = make_manager()
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(WAIT)
    try:
        c = mgr.connect(f"udp://127.0.0.1:{peer.getsockname()[1]}")
        c.sntp_request()
        req, _ = peer.recvfrom(100)
        assert len(req) == 48 and req[0] == 0x23
    finally:
        peer.close()


def test_errors(make_manager):
    mgr = make_manager()
    with pytest.raises(RuntimeError) as ei:
        mgr.sntp_connect("")
    assert str(ei.value) == "Failed to connect to SNTP server ''"
    with pytest.raises(TypeError):
        mgr.sntp_connect(b"udp://127.0.0.1:123")
    with pytest.raises(RuntimeError, match="Connection has been closed"):
        Connection().sntp_request()
    c = mgr.connect("udp://127.0.0.1:9")
    c.close()
    with pytest.raises(RuntimeError, match="Connection has been closed"):
        c.sntp_request()
    m2 = Manager()
    m2.close()
    with pytest.raises(RuntimeError, match="Manager has been freed"):
        m2.sntp_connect("udp://127.0.0.1:123")


@pytest.mark.skipif(HOSTS is None, reason="no name other than localhost for a local address in /etc/hosts")
def test_host_name_request_after_resolve(make_manager, recorder, server):
    srv = server(host=HOST_IP)
    rec = recorder()
    mgr = make_manager()
    c = mgr.sntp_connect(f"udp://{HOST_NAME}:{srv.port}", rec)
    assert rec.seq(c) == [MG_EV_OPEN]
    c.sntp_request()  # still resolving: nothing is sent
    assert rec.seq(c) == [MG_EV_OPEN]
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, c))
    assert rec.seq(c) == [MG_EV_OPEN, MG_EV_RESOLVE, MG_EV_WRITE, MG_EV_CONNECT,
                          MG_EV_SNTP_TIME, MG_EV_READ, MG_EV_CLOSE]
    assert len(srv.requests) == 1
