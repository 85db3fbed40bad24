"""HTTP keep-alive, Connection: close, pipelining, deferred replies (API 6.5, 7.4, 7.6)."""

import http.client

from pymongoose import (
    MG_EV_ACCEPT,
    MG_EV_CLOSE,
    MG_EV_HTTP_MSG,
    MG_EV_WRITE,
)

from conftest import (
    ResponseReader,
    connect,
    content_length_line,
    http_listen,
    poll_until,
    recv_all,
    reply_bytes,
    run_client,
)


def echo_uri(c, ev, d):
    if ev == MG_EV_HTTP_MSG:
        c.reply(200, d.uri)


def test_two_requests_on_one_http_client_connection(make_manager, recorder):
    rec = recorder(echo_uri)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)

    def client():
        hc = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        out = []
        for path in ("/first", "/second"):
            hc.request("GET", path)
            r = hc.getresponse()
            out.append((r.status, r.read(), r.will_close))
        hc.close()
        return out

    assert run_client(mgr, client) == [(200, b"/first", False), (200, b"/second", False)]
    assert rec.count(MG_EV_ACCEPT) == 1, "the client opened a second connection"
    conn = rec.conns_with(MG_EV_ACCEPT)[0]
    seq = rec.seq(conn)
    msgs = [i for i, e in enumerate(seq) if e == MG_EV_HTTP_MSG]
    assert len(msgs) == 2
    assert MG_EV_CLOSE not in seq[: msgs[1]], rec.names(conn)
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, conn))  # client closed


def test_connection_close_request_is_answered_then_closed(make_manager, recorder):
    draining_after = []

    def on(c, ev, d):
        echo_uri(c, ev, d)
        if ev == MG_EV_WRITE:
            draining_after.append(c.is_draining)

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)

    def client():
        s = connect(port)
        s.sendall(b"GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return recv_all(s)

    assert run_client(mgr, client) == reply_bytes(200, "OK", b"/bye", {"Content-Type": "text/plain", "Connection": "close"})
    conn = rec.conns_with(MG_EV_ACCEPT)[0]
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, conn))
    assert draining_after and all(draining_after)


def test_connection_close_via_http_client(make_manager, recorder):
    rec = recorder(echo_uri)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)

    def client():
        hc = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        hc.request("GET", "/x", headers={"Connection": "close"})
        r = hc.getresponse()
        body = r.read()
        # the server closed its side: a raw read on the socket sees EOF
        hc.close()
        return r.status, body

    assert run_client(mgr, client) == (200, b"/x")
    poll_until(mgr, lambda: rec.count(MG_EV_CLOSE) == 1)


def test_connection_header_is_a_token_list(make_manager, recorder):
    """`close` anywhere in the Connection list closes (RFC 9110 §7.6.1); HTTP/1.0
    stays open only with `keep-alive` (test_http_framing.py has the HTTP/1.0 cases)."""
    rec = recorder(echo_uri)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)

    def client(first):
        s = connect(port)
        rd = ResponseReader(s)
        s.sendall(first)
        r1 = rd.read()
        return r1.body, r1.header("Connection"), rd.at_eof()

    for first in (b"GET /a HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n",
                  b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\nConnection: Close\r\n\r\n",
                  b"GET /a HTTP/1.0\r\n\r\n"):
        assert run_client(mgr, client, first) == (b"/a", "close", True), first


def test_three_pipelined_requests_get_three_replies_in_order(make_manager, recorder):
    rec = recorder(echo_uri)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)

    def client():
        s = connect(port)
        s.sendall(
            b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /3 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        rd = ResponseReader(s)
        return [rd.read().raw for _ in range(3)]

    got = run_client(mgr, client)
    assert got == [reply_bytes(200, "OK", f"/{i}".encode()) for i in (1, 2, 3)]
    assert [d[2] for d in rec.data_of(MG_EV_HTTP_MSG)] == ["/1", "/2", "/3"]


def test_pipelined_post_bodies_are_split_correctly(make_manager, recorder):
    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            c.reply(200, d.body_bytes[::-1])

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)

    def client():
        s = connect(port)
        s.sendall(
            b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
            b"POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\n\x00\x01\x02\x03\x04"
            b"GET /c HTTP/1.1\r\n\r\n"
        )
        rd = ResponseReader(s)
        return [rd.read().body for _ in range(3)]

    assert run_client(mgr, client) == [b"cba", b"\x04\x03\x02\x01\x00", b""]


def test_deferred_reply_then_pipelined_request_is_served(make_manager, recorder):
    pending = []

    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            if d.uri == "/slow":
                pending.append(c)  # answer later, outside the handler
            else:
                c.reply(200, d.uri)

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)
    s = connect(port)
    try:
        s.sendall(b"GET /slow HTTP/1.1\r\n\r\nGET /fast HTTP/1.1\r\n\r\n")
        poll_until(mgr, lambda: pending)
        for _ in range(5):
            mgr.poll(10)
        # /fast is held back while /slow has no answer
        assert [d[2] for d in rec.data_of(MG_EV_HTTP_MSG)] == ["/slow"]
        pending[0].reply(200, b"slow done")
        rd = ResponseReader(s)
        got = run_client(mgr, lambda: [rd.read().body for _ in range(2)])
        assert got == [b"slow done", b"/fast"]
    finally:
        s.close()


def test_handler_exception_gets_500_and_connection_goes_on(make_manager, recorder):
    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            if d.uri == "/boom":
                raise ValueError("boom in handler")
            c.reply(200, d.uri)

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)

    def client():
        s = connect(port)
        rd = ResponseReader(s)
        s.sendall(b"GET /boom HTTP/1.1\r\n\r\n")
        r1 = rd.read()
        s.sendall(b"GET /ok HTTP/1.1\r\n\r\n")
        r2 = rd.read()
        s.close()
        return r1, r2

    r1, r2 = run_client(mgr, client)
    # API 7.6: "500 Internal Server Error in the reply() format, empty body"
    assert r1.raw.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert content_length_line(0) in r1.raw and r1.body == b""
    assert r2.raw == reply_bytes(200, "OK", b"/ok")
