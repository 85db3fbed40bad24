"""HttpMessage (API 7.1-7.3, 7.9, 16.1) and requests the server rejects (6.5, 13)."""

import socket
import time

import pytest

from pymongoose import (
    MG_EV_ACCEPT,
    MG_EV_CLOSE,
    MG_EV_CONNECT,
    MG_EV_HTTP_HDRS,
    MG_EV_HTTP_MSG,
    MG_EV_READ,
    MG_EV_WRITE,
    HttpMessage,
)

from conftest import (
    Client,
    ResponseReader,
    connect,
    content_length_line,
    http_listen,
    poll_until,
    recv_all,
    reply_bytes,
    run_client,
)


def capture(make_manager, recorder, request, extract, **mgr_kwargs):
    """Send ``request`` on a raw socket; return ``extract(msg)`` for each
    MG_EV_HTTP_MSG (computed inside the handler) and the response bytes."""
    results = []

    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            try:
                results.append(extract(d))
            except Exception as exc:  # reported through the comparison
                results.append(exc)
            finally:
                c.reply(200, b"ok")
                c.drain()

    rec = recorder(on)
    mgr = make_manager(**mgr_kwargs)
    _, port = http_listen(mgr, rec)

    def client():
        s = connect(port)
        s.sendall(request)
        data = recv_all(s)
        s.close()
        return data

    raw = run_client(mgr, client)
    return results, raw


def fields(m):
    return {
        "method": m.method,
        "uri": m.uri,
        "query": m.query,
        "proto": m.proto,
        "body_bytes": m.body_bytes,
        "body_text": m.body_text,
        "status": m.status(),
        "headers": m.headers(),
        "bool": bool(m),
    }


def test_request_fields(make_manager, recorder):
    req = (
        b"GET /path/x%20y?a=1&b=hello+world%21&e=&bad=%zz&A2=z HTTP/1.1\r\n"
        b"Host: example\r\n"
        b"X-Dup: one\r\n"
        b"x-dup: two\r\n"
        b"Empty:\r\n"
        b"Spaced: \t value with spaces \t \r\n"
        b"\r\n"
    )
    res, raw = capture(make_manager, recorder, req, lambda m: (
        fields(m),
        m.header("host"), m.header("HOST"), m.header("x-dup"), m.header("Empty"),
        m.header("Spaced"), m.header("missing"), m.header("missing", "dflt"),
        m.query_var("a"), m.query_var("B"), m.query_var("e"), m.query_var("bad"),
        m.query_var("zz"), m.query_var("a2"),
    ))
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    f, *vals = res[0]
    assert f == {
        "method": "GET",
        "uri": "/path/x%20y",
        "query": "a=1&b=hello+world%21&e=&bad=%zz&A2=z",
        "proto": "HTTP/1.1",
        "body_bytes": b"",
        "body_text": "",
        "status": 0,
        "headers": [
            ("Host", "example"),
            ("X-Dup", "one"),
            ("x-dup", "two"),
            ("Empty", ""),
            ("Spaced", "value with spaces"),
        ],
        "bool": True,
    }
    assert vals == [
        "example", "example", "one", "", "value with spaces", None, "dflt",
        "1", "hello world!", None, None, None, "z",
    ]


def test_query_var_skips_empty_pairs(make_manager, recorder):
    """Empty pairs ("&&") are not pairs, as in mg_http_get_var and cymongoose:
    the empty name finds the first pair with nothing before its '='."""
    req = b"GET /p?&=abc&&x=1 HTTP/1.1\r\nHost: h\r\n\r\n"
    res, _ = capture(make_manager, recorder, req, lambda m: (m.query_var(""), m.query_var("x")))
    assert res[0] == ("abc", "1")


def test_query_var_length_limit(make_manager, recorder):
    # cymongoose 0.2's rule (docs/api.md 19.1): decoded values up to 2047 bytes;
    # longer raises ValueError; a bad % escape still gives None.
    ok = "x" * 2047
    long = "y" * 2048
    enc = "%41" * 2047
    req = (f"GET /?ok={ok}&long={long}&enc={enc}&bad=%zz&Long2={long}%4 HTTP/1.1\r\n\r\n").encode()

    def extract(m):
        out = [m.query_var("ok"), m.query_var("enc"), m.query_var("bad")]
        for name in ("long", "LONG2"):
            try:
                out.append(m.query_var(name))
            except ValueError as exc:
                out.append(str(exc))
        return tuple(out)

    res, _ = capture(make_manager, recorder, req, extract)
    assert res == [(ok, "A" * 2047, None,
                    "Query parameter 'long' value exceeds 2048-byte buffer limit",
                    "Query parameter 'LONG2' value exceeds 2048-byte buffer limit")]


def test_post_body_binary(make_manager, recorder):
    body = bytes(range(256))
    req = b"POST /up HTTP/1.1\r\nContent-Length: 256\r\n\r\n" + body
    res, _ = capture(make_manager, recorder, req, lambda m: (m.method, m.body_bytes, m.body_text))
    assert res[0][0] == "POST"
    assert res[0][1] == body
    assert res[0][2].encode("utf-8", "surrogateescape") == body


def test_chunked_body_is_dechunked(make_manager, recorder):
    req = (
        b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    res, _ = capture(make_manager, recorder, req, lambda m: m.body_bytes)
    assert res == [b"hello world"]


def test_non_utf8_bytes_roundtrip_with_surrogateescape(make_manager, recorder):
    # the request line must be valid UTF-8 (API 7.1); header values need not be
    req = b"GET /caf\xc3\xa9?q=\xe2\x82\xac HTTP/1.1\r\nX-Raw: \xfe\xfd\r\n\r\n"
    res, _ = capture(make_manager, recorder, req,
                     lambda m: (m.uri, m.query, m.header("X-Raw"), m.headers()))
    uri, query, xraw, hdrs = res[0]
    assert (uri, query) == ("/café", "q=€")
    assert xraw.encode("utf-8", "surrogateescape") == b"\xfe\xfd"
    assert hdrs == [("X-Raw", xraw)]


def test_header_var(make_manager, recorder):
    req = (
        b"GET / HTTP/1.1\r\n"
        b'Content-Disposition: form-data; filename="f.txt"; name="n"\r\n'
        b"Cookie: sid=abc123; theme=dark, q=1\r\n"
        b"X-Short: a=1; q=1\r\n"
        b"\r\n"
    )
    res, _ = capture(make_manager, recorder, req, lambda m: (
        m.header_var("Content-Disposition", "name"),
        m.header_var("Content-Disposition", "filename"),
        m.header_var("Cookie", "sid"),
        m.header_var("Cookie", "theme"),
        m.header_var("Cookie", "nope"),
        m.header_var("Missing", "x"),
        m.header_var("X-Short", "q"),
    ))
    assert res == [("f.txt", "f.txt", "abc123", "dark", None, None, None)]


def test_only_first_30_headers_are_stored(make_manager, recorder):
    hdrs = b"".join(f"X-H{i}: v{i}\r\n".encode() for i in range(40))
    req = b"GET / HTTP/1.1\r\n" + hdrs + b"\r\n"
    res, _ = capture(make_manager, recorder, req, lambda m: (m.headers(), m.header("X-H35")))
    headers, h35 = res[0]
    assert headers == [(f"X-H{i}", f"v{i}") for i in range(30)]
    assert h35 is None


def test_content_length_after_30th_header_is_honoured(make_manager, recorder):
    hdrs = b"".join(f"X-H{i}: v{i}\r\n".encode() for i in range(35))
    req = b"POST / HTTP/1.1\r\n" + hdrs + b"Content-Length: 4\r\n\r\nbody"
    res, raw = capture(make_manager, recorder, req, lambda m: m.body_bytes)
    assert res == [b"body"]
    assert raw == reply_bytes(200, "OK", b"ok")


def test_hdrs_and_msg_get_different_message_objects(make_manager, recorder):
    objs = {}

    def on(c, ev, d):
        if ev in (MG_EV_HTTP_HDRS, MG_EV_HTTP_MSG):
            assert isinstance(d, HttpMessage)
            objs.setdefault(ev, []).append(d)
            if ev == MG_EV_HTTP_MSG:
                c.reply(200, b"")

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)
    s = connect(port)
    try:
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        poll_until(mgr, lambda: MG_EV_HTTP_MSG in objs)
        assert all(h is not objs[MG_EV_HTTP_MSG][0] for h in objs[MG_EV_HTTP_HDRS])
    finally:
        s.close()


def test_message_view_invalid_after_handler_returns(make_manager, recorder):
    kept = []

    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            assert bool(d) and d.uri == "/keep"
            kept.append(d)
            c.reply(200, b"")

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)
    s = connect(port)
    try:
        s.sendall(b"POST /keep?a=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
        poll_until(mgr, lambda: kept)
        m = kept[0]
        assert not bool(m)
        assert (m.method, m.uri, m.query, m.proto) == ("", "", "", "")
        assert m.body_bytes == b"" and m.body_text == ""
        assert m.headers() == []
        assert m.header("Host") is None
        assert m.header("Host", "d") == "d"
        assert m.status() is None
        assert m.query_var("a") is None
        assert m.header_var("Host", "x") is None
    finally:
        s.close()


def test_message_argument_types(make_manager, recorder):
    errs = []

    def extract(m):
        for call in (lambda: m.header(5), lambda: m.header(b"Host"),
                     lambda: m.query_var(1), lambda: m.header_var(None, "x")):
            try:
                call()
            except TypeError as exc:
                errs.append(str(exc))
        return True

    res, _ = capture(make_manager, recorder, b"GET /?a=1 HTTP/1.1\r\nHost: h\r\n\r\n", extract)
    assert res == [True]
    assert len(errs) == 4 and all(errs)


def test_response_parsing_on_client_connection(make_manager, recorder):
    got = []

    def on(c, ev, d):
        if ev == MG_EV_CONNECT:
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        elif ev == MG_EV_HTTP_MSG:
            got.append((d.method, d.uri, d.proto, d.status(), d.header("X-Srv"), d.body_bytes))

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def server():
        peer, _ = srv.accept()
        peer.settimeout(10)
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += peer.recv(4096)
        peer.sendall(b"HTTP/1.1 404 Not Really Found\r\nX-Srv: yes\r\nContent-Length: 4\r\n\r\nnope")
        return peer

    rec = recorder(on)
    mgr = make_manager()
    try:
        th = Client(server)
        mgr.connect(f"tcp://127.0.0.1:{port}", rec, http=True)
        poll_until(mgr, lambda: got)
        assert got == [("HTTP/1.1", "404", "Not Really Found", 404, "yes", b"nope")]
        poll_until(mgr, lambda: th.done)
        th.result().close()
    finally:
        srv.close()


# --------------------------------------------------------------------------
# Requests the server engine rejects (API 6.5, 7.1, 13)
# --------------------------------------------------------------------------


def rejected(make_manager, recorder, request, **mgr_kwargs):
    """Send ``request``; return (response bytes up to EOF, recorder, conn)."""

    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            c.reply(200, b"served " + d.uri.encode())

    rec = recorder(on)
    mgr = make_manager(**mgr_kwargs)
    _, port = http_listen(mgr, rec)

    def client():
        s = connect(port)
        try:
            s.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = recv_all(s)
        s.close()
        return data

    raw = run_client(mgr, client)
    conn = rec.conns_with(MG_EV_ACCEPT)[0]
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, conn))
    return raw, rec, conn


def engine_answer(code, reason):
    return reply_bytes(code, reason, b"", {"Connection": "close"})


BAD_400 = {
    "garbage": b"GARBAGE\r\n\r\n",
    "control-byte": b"GET /\x01 HTTP/1.1\r\n\r\n",
    "nul-in-header": b"GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n",
    "bad-proto": b"GET / FTP/1.1\r\n\r\n",
    "no-colon": b"GET / HTTP/1.1\r\nNoColonHere\r\n\r\n",
    "obs-fold": b"GET / HTTP/1.1\r\nX-A: a\r\n  folded\r\n\r\n",
    "cl-not-digits": b"POST / HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n",
    "cl-conflict": b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "cl-and-te": b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-not-chunked": b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
    "bad-chunk": b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(BAD_400))
def test_400_for_unparseable_request_then_close(make_manager, recorder, name):
    raw, rec, conn = rejected(make_manager, recorder, BAD_400[name])
    assert raw == engine_answer(400, "Bad Request")
    assert not rec.has(MG_EV_HTTP_MSG)
    seq = rec.seq(conn)
    assert MG_EV_READ not in seq, rec.names(conn)
    assert seq[-2:] == [MG_EV_WRITE, MG_EV_CLOSE], rec.names(conn)


def test_earlier_requests_unaffected_by_rejected_one(make_manager, recorder):
    raw, rec, _ = rejected(
        make_manager, recorder,
        b"GET /fine HTTP/1.1\r\n\r\nGARBAGE\x01\r\n\r\nGET /never HTTP/1.1\r\n\r\n",
    )
    assert raw == reply_bytes(200, "OK", b"served /fine") + engine_answer(400, "Bad Request")
    assert [d[2] for d in rec.data_of(MG_EV_HTTP_MSG)] == ["/fine"]


def test_413_for_content_length_over_max_body_size(make_manager, recorder):
    req = b"POST / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n" + b"x" * 2000
    raw, rec, conn = rejected(make_manager, recorder, req, max_body_size=1000)
    assert raw == engine_answer(413, "Payload Too Large")
    assert not rec.has(MG_EV_HTTP_MSG) and not rec.has(MG_EV_HTTP_HDRS)


def test_body_at_max_body_size_is_accepted(make_manager, recorder):
    req = b"POST / HTTP/1.1\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n" + b"x" * 1000
    raw, rec, _ = rejected(make_manager, recorder, req, max_body_size=1000)
    assert raw == reply_bytes(200, "OK", b"served /", {"Content-Type": "text/plain", "Connection": "close"})


def test_413_for_chunked_body_over_max_body_size(make_manager, recorder):
    chunk = b"400\r\n" + b"y" * 1024 + b"\r\n"
    req = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 3 + b"0\r\n\r\n"
    raw, rec, _ = rejected(make_manager, recorder, req, max_body_size=2048)
    assert raw == engine_answer(413, "Payload Too Large")
    assert not rec.has(MG_EV_HTTP_MSG)


def test_431_for_more_headers_than_max_headers(make_manager, recorder):
    hdrs = b"".join(f"X-H{i}: v\r\n".encode() for i in range(10))
    raw, rec, _ = rejected(make_manager, recorder, b"GET / HTTP/1.1\r\n" + hdrs + b"\r\n", max_headers=5)
    assert raw == engine_answer(431, "Request Header Fields Too Large")
    assert not rec.has(MG_EV_HTTP_MSG) and not rec.has(MG_EV_HTTP_HDRS)


def test_431_over_default_max_headers(make_manager, recorder):
    hdrs = b"".join(f"X-H{i}: v\r\n".encode() for i in range(101))
    raw, rec, _ = rejected(make_manager, recorder, b"GET / HTTP/1.1\r\n" + hdrs + b"\r\n")
    assert raw == engine_answer(431, "Request Header Fields Too Large")


def test_431_for_head_over_max_head_size(make_manager, recorder):
    req = b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n"
    raw, rec, _ = rejected(make_manager, recorder, req, max_head_size=1024)
    assert raw == engine_answer(431, "Request Header Fields Too Large")
    assert not rec.has(MG_EV_HTTP_MSG)


def test_max_headers_zero_turns_the_limit_off(make_manager, recorder):
    hdrs = b"".join(f"X-H{i}: v\r\n".encode() for i in range(150))
    req = b"GET / HTTP/1.1\r\n" + hdrs + b"Connection: close\r\n\r\n"
    raw, _, _ = rejected(make_manager, recorder, req, max_headers=0)
    assert raw == reply_bytes(200, "OK", b"served /", {"Content-Type": "text/plain", "Connection": "close"})


def test_411_for_post_without_length_keeps_the_connection(make_manager, recorder):
    """411 as in the reference (7.1): the head is consumed, no MG_EV_HTTP_MSG,
    and the connection stays usable: the next request on it is served."""

    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            c.reply(200, b"served " + d.uri.encode())

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)

    def client():
        s = connect(port, timeout=5)
        s.sendall(b"POST /p HTTP/1.1\r\nHost: x\r\n\r\n")
        rd = ResponseReader(s)
        first = rd.read()
        s.sendall(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        second = rd.read()
        s.close()
        return first.raw, second.body

    raw, body = run_client(mgr, client)
    assert raw == b"HTTP/1.1 411 Length Required\r\n" + content_length_line(0) + b"\r\n"
    assert body == b"served /next"
    assert [d[2] for d in rec.data_of(MG_EV_HTTP_MSG)] == ["/next"]


def test_408_when_head_does_not_arrive_in_time(make_manager, recorder):
    raw, rec, _ = rejected(make_manager, recorder, b"GET / HTTP/1.1\r\nHost: x\r\n",
                           head_timeout_ms=300)
    assert raw == engine_answer(408, "Request Timeout")
    assert not rec.has(MG_EV_HTTP_MSG)


def test_408_when_body_stalls(make_manager, recorder):
    raw, rec, _ = rejected(make_manager, recorder,
                           b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
                           stall_timeout_ms=300)
    assert raw == engine_answer(408, "Request Timeout")
    assert not rec.has(MG_EV_HTTP_MSG)


def test_idle_keepalive_connection_is_not_timed_out(make_manager, recorder):
    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            c.reply(200, d.uri)

    rec = recorder(on)
    mgr = make_manager(head_timeout_ms=100, stall_timeout_ms=100)
    _, port = http_listen(mgr, rec)
    s = connect(port)
    try:
        rd = ResponseReader(s)
        s.sendall(b"GET /1 HTTP/1.1\r\n\r\n")
        assert run_client(mgr, rd.read).body == b"/1"
        # stay idle for well over both timeouts
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            mgr.poll(10)
        assert not rec.has(MG_EV_CLOSE)
        s.sendall(b"GET /2 HTTP/1.1\r\n\r\n")
        assert run_client(mgr, rd.read).body == b"/2"
    finally:
        s.close()
