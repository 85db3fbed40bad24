"""drain(): send what is queued, take nothing more, then close (API 6.1, 6.2, 6.4)."""

import concurrent.futures
import socket
import urllib.error
import urllib.request

from pymongoose import (
    MG_EV_ACCEPT,
    MG_EV_CLOSE,
    MG_EV_ERROR,
    MG_EV_HTTP_HDRS,
    MG_EV_HTTP_MSG,
    MG_EV_READ,
    MG_EV_WRITE,
)

from conftest import (
    ResponseReader,
    assert_same_bytes,
    connect,
    http_listen,
    poll_until,
    recv_all,
    reply_bytes,
    run_client,
    tcp_listen,
)

# All 256 byte values, NULs included, 16 MiB.
BIG = bytes(range(256)) * (16 * 1024 * 1024 // 256)
OCTET = {"Content-Type": "application/octet-stream"}


def test_16mib_binary_reply_then_drain_arrives_byte_exact(make_manager, recorder):
    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            c.reply(200, BIG, OCTET)
            c.drain()

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)

    def client():
        s = connect(port, timeout=30)
        s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        data = recv_all(s)  # until EOF
        s.close()
        return data

    raw = run_client(mgr, client, timeout=60)
    assert_same_bytes(raw, reply_bytes(200, "OK", BIG, OCTET), "response")
    conn = rec.conns_with(MG_EV_HTTP_MSG)[0]
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, conn))


def test_200_concurrent_clients_1mib_each_with_drain(make_manager, recorder):
    payload = bytes(range(256)) * 4096  # 1 MiB, binary
    nclients = 200

    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            i = int(d.uri[1:])
            c.reply(200, i.to_bytes(4, "big") + payload, OCTET)
            c.drain()

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)

    def client(i):
        s = connect(port, timeout=60)
        try:
            s.sendall(f"GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            data = recv_all(s)
        finally:
            s.close()
        head, sep, body = data.partition(b"\r\n\r\n")
        assert sep, f"client {i}: no response head"
        assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head[:40]
        assert len(body) == 4 + len(payload), f"client {i}: body {len(body)} bytes"
        assert body[:4] == i.to_bytes(4, "big"), f"client {i}: got another client's body"
        assert body[4:] == payload, f"client {i}: body corrupted"
        return i

    with concurrent.futures.ThreadPoolExecutor(max_workers=nclients) as pool:
        futs = [pool.submit(client, i) for i in range(nclients)]
        poll_until(mgr, lambda: all(f.done() for f in futs), timeout=90)
        assert sorted(f.result() for f in futs) == list(range(nclients))
    poll_until(mgr, lambda: rec.count(MG_EV_CLOSE) == nclients)


def test_is_draining_false_before_true_right_after(make_manager, recorder):
    seen = []

    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            seen.append(c.is_draining)
            c.reply(200, b"bye")
            seen.append(c.is_draining)  # reply() never drains
            c.drain()
            seen.append(c.is_draining)
            seen.append(c.recv_len)  # receive buffer dropped by drain()
            c.drain()  # idempotent
            seen.append(c.is_draining)

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)

    def client():
        s = connect(port)
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        return recv_all(s)

    raw = run_client(mgr, client)
    assert raw == reply_bytes(200, "OK", b"bye")
    assert seen == [False, False, True, 0, True]


def test_no_read_or_http_events_after_drain(make_manager, recorder):
    """Bytes the client sends after drain() are discarded; the response still
    flushes completely and the connection then closes (no reset)."""
    body = BIG[: 8 * 1024 * 1024]

    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            c.reply(200, body, OCTET)
            c.drain()

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)

    def client():
        s = connect(port, timeout=30)
        s.sendall(b"GET /first HTTP/1.1\r\n\r\n")
        first = s.recv(65536)  # the response has started: server is draining
        s.sendall(b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n" + b"junk" * 2000)
        return first + recv_all(s)

    raw = run_client(mgr, client, timeout=30)
    assert_same_bytes(raw, reply_bytes(200, "OK", body, OCTET), "response")
    conn = rec.conns_with(MG_EV_ACCEPT)[0]
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, conn))
    seq = rec.seq(conn)
    assert seq.count(MG_EV_HTTP_MSG) == 1, rec.names(conn)
    assert seq.count(MG_EV_HTTP_HDRS) == 1, rec.names(conn)
    assert MG_EV_READ not in seq, rec.names(conn)
    assert seq[-1] == MG_EV_CLOSE
    assert seq[-2] == MG_EV_WRITE, rec.names(conn)


def test_pipelined_request_after_drain_is_never_seen(make_manager, recorder):
    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            c.reply(200, d.uri)
            c.drain()

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)

    def client():
        s = connect(port)
        s.sendall(b"GET /one HTTP/1.1\r\n\r\nGET /two HTTP/1.1\r\n\r\n")
        return recv_all(s)

    raw = run_client(mgr, client)
    assert raw == reply_bytes(200, "OK", b"/one")
    conn = rec.conns_with(MG_EV_ACCEPT)[0]
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, conn))
    assert [d[2] for d in rec.data_of(MG_EV_HTTP_MSG)] == ["/one"]
    assert MG_EV_READ not in rec.seq(conn), rec.names(conn)


def _half_close_client(port, expect_len):
    s = connect(port, timeout=30)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    s.shutdown(socket.SHUT_WR)  # half-close right after the request
    data = recv_all(s)
    s.close()
    return data


def test_half_close_after_request_gets_whole_response_with_drain(make_manager, recorder):
    body = BIG[: 4 * 1024 * 1024]

    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            c.reply(200, body, OCTET)
            c.drain()

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)
    raw = run_client(mgr, _half_close_client, port, len(body), timeout=30)
    assert_same_bytes(raw, reply_bytes(200, "OK", body, OCTET), "response")


def test_half_close_after_request_gets_whole_response_without_drain(make_manager, recorder):
    body = BIG[: 4 * 1024 * 1024]

    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            c.reply(200, body, OCTET)

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)
    raw = run_client(mgr, _half_close_client, port, len(body), timeout=30)
    # The connection closes once its queue is empty: the client saw EOF.
    assert_same_bytes(raw, reply_bytes(200, "OK", body, OCTET), "response")
    conn = rec.conns_with(MG_EV_ACCEPT)[0]
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, conn))


def test_drain_from_outside_poll_flushes_raw_tcp_then_closes(make_manager, recorder):
    data = BIG[: 2 * 1024 * 1024]
    rec = recorder()
    mgr = make_manager()
    _, port = tcp_listen(mgr, rec)
    s = connect(port, timeout=30)
    try:
        poll_until(mgr, lambda: rec.has(MG_EV_ACCEPT))
        conn = rec.conns_with(MG_EV_ACCEPT)[0]
        conn.send(data)
        conn.drain()
        assert conn.is_draining is True
        got = run_client(mgr, recv_all, s, timeout=30)
    finally:
        s.close()
    assert_same_bytes(got, data)
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, conn))
    assert rec.seq(conn)[-2:] == [MG_EV_WRITE, MG_EV_CLOSE], rec.names(conn)


def test_drain_with_empty_buffer_in_own_handler_closes_in_same_iteration(make_manager, recorder):
    tick = [0]
    at = {}

    def on(c, ev, d):
        if ev == MG_EV_READ:
            at["read"] = tick[0]
            c.drain()
        elif ev == MG_EV_CLOSE and not c.is_listening:
            at["close"] = tick[0]

    rec = recorder(on)
    mgr = make_manager()
    _, port = tcp_listen(mgr, rec)
    s = connect(port)
    try:
        s.sendall(b"hello")

        def step():
            tick[0] += 1

        poll_until(mgr, lambda: "close" in at, before_poll=step)
        assert at["close"] == at["read"]
        assert recv_all(s) == b""
    finally:
        s.close()


def test_drain_from_outside_poll_with_empty_buffer_closes_on_next_poll(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    _, port = tcp_listen(mgr, rec)
    s = connect(port)
    try:
        poll_until(mgr, lambda: rec.has(MG_EV_ACCEPT))
        conn = rec.conns_with(MG_EV_ACCEPT)[0]
        conn.drain()
        mgr.poll(0)
        assert rec.has(MG_EV_CLOSE, conn)
        assert recv_all(s) == b""
    finally:
        s.close()


def test_draining_connection_whose_peer_never_reads_times_out(make_manager, recorder):
    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            c.reply(200, b"x" * (64 * 1024 * 1024))
            c.drain()

    rec = recorder(on)
    mgr = make_manager(stall_timeout_ms=300)
    _, port = http_listen(mgr, rec)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")  # and never read
        poll_until(mgr, lambda: rec.has(MG_EV_CLOSE) , timeout=15)
        conn = rec.conns_with(MG_EV_CLOSE)[0]
        assert rec.data_of(MG_EV_ERROR, conn) == ["drain timeout"]
        assert rec.seq(conn)[-2:] == [MG_EV_ERROR, MG_EV_CLOSE]
        assert mgr.connections == (mgr.connections[0],)  # only the listener
    finally:
        s.close()


def test_shutdown_flag_pattern_503_and_drain(make_manager, recorder):
    """The seed's pattern: once a flag is set every request gets 503 + drain."""
    state = {"shutdown": False}

    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            if state["shutdown"]:
                c.reply(503, b"Server shutting down")
                c.drain()
            else:
                c.reply(200, b"OK")

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)

    def client():
        s = connect(port)
        rd = ResponseReader(s)
        s.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        r1 = rd.read()
        state["shutdown"] = True
        s.sendall(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        r2 = rd.read()
        eof = rd.at_eof()
        s.close()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/c", timeout=10)
            fresh = None
        except urllib.error.HTTPError as e:
            fresh = (e.code, e.read())
        return r1, r2, eof, fresh

    r1, r2, eof, fresh = run_client(mgr, client)
    assert (r1.status, r1.body) == (200, b"OK")
    assert (r2.status, r2.reason, r2.body) == (503, "Service Unavailable", b"Server shutting down")
    assert eof, "connection not closed after the 503"
    assert fresh == (503, b"Server shutting down")
