"""Hostile HTTP input on raw sockets: malformed heads, conflicting framing and
the classic request-smuggling shapes.

Every hostile request must be answered 400/413/431 and closed, never crash
the engine, and never produce more MG_EV_HTTP_MSG than requests the server
can legitimately see (in particular never the "smuggled" one).
"""

import socket

import pytest

from pymongoose import MG_EV_CLOSE, MG_EV_HTTP_MSG

from conftest import Client, connect, http_listen, poll_until

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


class Server:
    def __init__(self, make_manager, **limits):
        self.msgs = []
        self.closed = 0
        self.mgr = make_manager(**limits)
        self.lst, self.port = http_listen(self.mgr, self.handler)

    def handler(self, conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            self.msgs.append((data.method, data.uri, bytes(data.body_bytes)))
            conn.reply(200, b"ok")
        elif ev == MG_EV_CLOSE and not conn.is_listening:
            self.closed += 1

    def exchange(self, raw, shut=False):
        """Send ``raw``, read until EOF; returns the bytes received."""

        def run():
            s = connect(self.port, timeout=10)
            try:
                try:
                    s.sendall(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                if shut:
                    s.shutdown(socket.SHUT_WR)
                buf = bytearray()
                while True:
                    try:
                        chunk = s.recv(65536)
                    except ConnectionResetError:
                        break
                    if not chunk:
                        break
                    buf += chunk
                return bytes(buf)
            finally:
                s.close()

        cl = Client(run)
        poll_until(self.mgr, lambda: cl.done, what="client")
        # the server side is gone too (no leak of half-closed conns)
        poll_until(self.mgr, lambda: len(self.mgr.connections) == 1, what="server conn closed")
        return cl.result()


def statuses(resp):
    out = []
    for part in resp.split(b"HTTP/1.1 ")[1:]:
        out.append(int(part[:3]))
    return out


def head(req_line=b"POST / HTTP/1.1", *headers):
    return req_line + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n"


# (id, raw bytes, acceptable rejection codes)
REJECT = [
    ("bad-request-line-no-uri", b"GET\r\n\r\n", {400}),
    ("bad-request-line-proto", b"GET / HTTX/1.1\r\n\r\n", {400}),
    ("bad-request-line-proto-long", b"GET / HTTP/1.10\r\n\r\n", {400}),
    ("bad-request-line-ctl", b"GE\x01T / HTTP/1.1\r\n\r\n", {400}),
    ("bad-request-line-bare-cr", b"GET /\r HTTP/1.1\r\n\r\n", {400}),
    ("obs-fold", head(b"GET / HTTP/1.1", b"X-A: 1", b" continued"), {400}),
    ("obs-fold-tab", head(b"GET / HTTP/1.1", b"X-A: 1", b"\tcontinued"), {400}),
    ("header-no-colon", head(b"GET / HTTP/1.1", b"NoColonHere"), {400}),
    ("header-empty-name", head(b"GET / HTTP/1.1", b": v"), {400}),
    ("nul-in-header-value", head(b"GET / HTTP/1.1", b"X-A: a\x00b"), {400}),
    ("nul-in-header-name", head(b"GET / HTTP/1.1", b"X-\x00A: b"), {400}),
    ("nul-in-uri", b"GET /a\x00b HTTP/1.1\r\n\r\n", {400}),
    ("one-mb-header", head(b"GET / HTTP/1.1", b"X-Big: " + b"a" * (1 << 20)), {431}),
    ("too-many-headers", head(b"GET / HTTP/1.1", *[b"X-%d: v" % i for i in range(200)]), {431}),
    # conflicting framing
    ("cl-and-te", head(b"POST / HTTP/1.1", b"Content-Length: 4", b"Transfer-Encoding: chunked")
     + b"0\r\n\r\n", {400}),
    ("two-different-cl", head(b"POST / HTTP/1.1", b"Content-Length: 4", b"Content-Length: 5")
     + b"aaaaa", {400}),
    ("cl-plus", head(b"POST / HTTP/1.1", b"Content-Length: +4") + b"abcd", {400}),
    ("cl-minus", head(b"POST / HTTP/1.1", b"Content-Length: -1") + b"abcd", {400}),
    ("cl-space-inside", head(b"POST / HTTP/1.1", b"Content-Length: 1 0") + b"a" * 10, {400}),
    ("cl-hex", head(b"POST / HTTP/1.1", b"Content-Length: 0x10") + b"a" * 16, {400}),
    ("cl-comma-list", head(b"POST / HTTP/1.1", b"Content-Length: 4, 4") + b"abcd", {400}),
    ("cl-overflow", head(b"POST / HTTP/1.1", b"Content-Length: 99999999999999999999999"), {400, 413}),
    ("cl-too-big", head(b"POST / HTTP/1.1", b"Content-Length: 999999999999"), {413}),
    # chunked
    ("chunk-size-not-hex", head(b"POST / HTTP/1.1", b"Transfer-Encoding: chunked") + b"zz\r\nab\r\n0\r\n\r\n", {400}),
    ("chunk-size-empty", head(b"POST / HTTP/1.1", b"Transfer-Encoding: chunked") + b"\r\nab\r\n0\r\n\r\n", {400}),
    ("chunk-size-negative", head(b"POST / HTTP/1.1", b"Transfer-Encoding: chunked") + b"-1\r\nab\r\n0\r\n\r\n", {400}),
    ("chunk-size-overflow", head(b"POST / HTTP/1.1", b"Transfer-Encoding: chunked")
     + b"1" + b"0" * 16 + b"\r\nab\r\n0\r\n\r\n", {400, 413}),
    ("chunk-size-overflow-ffff", head(b"POST / HTTP/1.1", b"Transfer-Encoding: chunked")
     + b"f" * 40 + b"\r\nab\r\n0\r\n\r\n", {400, 413}),
    ("chunk-size-0x", head(b"POST / HTTP/1.1", b"Transfer-Encoding: chunked") + b"0x2\r\nab\r\n0\r\n\r\n", {400}),
    ("chunk-size-space", head(b"POST / HTTP/1.1", b"Transfer-Encoding: chunked") + b"2 \r\nab\r\n0\r\n\r\n", {400}),
    ("chunk-bare-lf-size", head(b"POST / HTTP/1.1", b"Transfer-Encoding: chunked") + b"2\nab\r\n0\r\n\r\n", {400}),
    ("chunk-data-too-long", head(b"POST / HTTP/1.1", b"Transfer-Encoding: chunked") + b"2\r\nabc\r\n0\r\n\r\n", {400}),
    ("chunk-huge-line", head(b"POST / HTTP/1.1", b"Transfer-Encoding: chunked") + b"2;" + b"e" * 10000, {400}),
]

# Smuggling: every payload ends with SMUGGLED, which a parser confused about
# framing would deliver as a second request.
SMUGGLE = [
    # CL.TE: front end uses CL, back end uses TE
    ("CL.TE", head(b"POST / HTTP/1.1", b"Host: x", b"Content-Length: 41", b"Transfer-Encoding: chunked")
     + b"0\r\n\r\n" + SMUGGLED),
    # TE.CL
    ("TE.CL", head(b"POST / HTTP/1.1", b"Host: x", b"Transfer-Encoding: chunked", b"Content-Length: 3")
     + b"%x\r\n" % len(SMUGGLED) + SMUGGLED + b"\r\n0\r\n\r\n"),
    ("TE.TE-xchunked", head(b"POST / HTTP/1.1", b"Host: x", b"Transfer-Encoding: xchunked", b"Content-Length: 0")
     + SMUGGLED),
    ("TE-xchunked-alone", head(b"POST / HTTP/1.1", b"Host: x", b"Transfer-Encoding: xchunked") + b"0\r\n\r\n" + SMUGGLED),
    ("TE-space-before-colon", head(b"POST / HTTP/1.1", b"Host: x", b"Transfer-Encoding : chunked",
                                   b"Content-Length: 5") + b"0\r\n\r\n" + SMUGGLED),
    ("TE-duplicated", head(b"POST / HTTP/1.1", b"Host: x", b"Transfer-Encoding: chunked",
                           b"Transfer-Encoding: identity") + b"0\r\n\r\n" + SMUGGLED),
    ("TE-duplicated-same", head(b"POST / HTTP/1.1", b"Host: x", b"Transfer-Encoding: chunked",
                                b"Transfer-Encoding: chunked") + b"0\r\n\r\n" + SMUGGLED),
    ("TE-list", head(b"POST / HTTP/1.1", b"Host: x", b"Transfer-Encoding: gzip, chunked") + b"0\r\n\r\n" + SMUGGLED),
    ("TE-tab-obfuscated", head(b"POST / HTTP/1.1", b"Host: x", b"Transfer-Encoding:\tchunked\x0b",
                               b"Content-Length: 5") + b"0\r\n\r\n" + SMUGGLED),
    ("TE-obs-fold", head(b"POST / HTTP/1.1", b"Host: x", b"Transfer-Encoding:", b" chunked",
                         b"Content-Length: 5") + b"0\r\n\r\n" + SMUGGLED),
    ("TE-quoted", head(b"POST / HTTP/1.1", b"Host: x", b'Transfer-Encoding: "chunked"') + b"0\r\n\r\n" + SMUGGLED),
    ("CL-plus-smuggle", head(b"POST / HTTP/1.1", b"Host: x", b"Content-Length: +0") + SMUGGLED),
    ("CL-space-inside-smuggle", head(b"POST / HTTP/1.1", b"Host: x", b"Content-Length: 3 6") + SMUGGLED),
    ("CL-duplicated-different", head(b"POST / HTTP/1.1", b"Host: x", b"Content-Length: 0",
                                     b"Content-Length: %d" % len(SMUGGLED)) + SMUGGLED),
    ("chunk-ext-overflow-hex", head(b"POST / HTTP/1.1", b"Host: x", b"Transfer-Encoding: chunked")
     + b"10000000000000000;a=b\r\n" + SMUGGLED + b"\r\n0\r\n\r\n"),
    ("bare-cr-header", b"POST / HTTP/1.1\r\nHost: x\rContent-Length: 0\r\n\r\n" + SMUGGLED),
    ("nul-te", head(b"POST / HTTP/1.1", b"Host: x", b"Transfer-Encoding: chunked\x00",
                    b"Content-Length: 5") + b"0\r\n\r\n" + SMUGGLED),
]


@pytest.mark.parametrize("name,raw,codes", REJECT, ids=[r[0] for r in REJECT])
def test_rejected_and_closed(make_manager, name, raw, codes):
    srv = Server(make_manager)
    resp = srv.exchange(raw)
    st = statuses(resp)
    assert st, f"no response to {name}: {resp[:200]!r}"
    assert st[0] in codes, f"{name}: got {st} {resp[:200]!r}"
    assert len(st) == 1, f"{name}: several responses {st}"
    assert srv.msgs == [], f"{name}: request delivered {srv.msgs}"
    assert b"Connection: close" in resp


@pytest.mark.parametrize("name,raw", SMUGGLE, ids=[r[0] for r in SMUGGLE])
def test_smuggling_rejected(make_manager, name, raw):
    srv = Server(make_manager)
    resp = srv.exchange(raw)
    st = statuses(resp)
    assert all(m[1] != "/smuggled" for m in srv.msgs), f"{name}: smuggled request delivered {srv.msgs}"
    assert len(srv.msgs) == 0, f"{name}: request delivered {srv.msgs}"
    assert st and st[0] in (400, 413, 431), f"{name}: got {st} {resp[:200]!r}"
    assert len(st) == 1, f"{name}: several responses {st}"


def test_bare_lf_mixed_is_one_request(make_manager):
    """Bare LF line ends mixed with CRLF: the engine accepts LF as a line
    end (like Mongoose), so a header after a bare LF is a header, the
    request is one request and its declared body is not a second request."""
    srv = Server(make_manager)
    body = SMUGGLED
    raw = (b"POST / HTTP/1.1\r\nHost: x\nContent-Length: %d\r\nX-A: b\n\r\n" % len(body)) + body
    resp = srv.exchange(raw, shut=True)
    assert statuses(resp) in ([200], [400])
    assert all(m[1] != "/smuggled" for m in srv.msgs)
    assert len(srv.msgs) <= 1
    if srv.msgs:
        assert srv.msgs[0][2] == body


def test_bare_lf_crlf_blank_line_is_one_request(make_manager):
    srv = Server(make_manager)
    raw = b"GET /a HTTP/1.1\nHost: x\r\n\n" + SMUGGLED
    resp = srv.exchange(raw, shut=True)
    # two requests were sent here (pipelined), each gets exactly one reply
    assert [m[1] for m in srv.msgs] in (["/a", "/smuggled"], [])
    assert len(statuses(resp)) == max(1, len(srv.msgs))


def test_chunk_extension_is_one_request(make_manager):
    """A chunk extension is legal: one request, de-chunked body, no second
    request made of the chunk data."""
    srv = Server(make_manager)
    raw = (head(b"POST /c HTTP/1.1", b"Host: x", b"Transfer-Encoding: chunked")
           + b"%x;name=val;x\r\n" % len(SMUGGLED) + SMUGGLED + b"\r\n0;e=1\r\nTrailer: t\r\n\r\n")
    resp = srv.exchange(raw, shut=True)
    assert srv.msgs == [("POST", "/c", SMUGGLED)]
    assert statuses(resp) == [200]


def test_pipelined_cl_body_is_not_a_request(make_manager):
    """A body that looks like a request stays a body."""
    srv = Server(make_manager)
    raw = head(b"POST /p HTTP/1.1", b"Host: x", b"Content-Length: %d" % len(SMUGGLED)) + SMUGGLED
    resp = srv.exchange(raw, shut=True)
    assert srv.msgs == [("POST", "/p", SMUGGLED)]
    assert statuses(resp) == [200]


def test_garbage_flood_no_crash(make_manager):
    """Random bytes, many connections: every one ends with at most one
    response and the server keeps answering valid requests."""
    import random

    rnd = random.Random(1234)
    srv = Server(make_manager)
    for i in range(40):
        n = rnd.randint(1, 3000)
        raw = bytes(rnd.getrandbits(8) for _ in range(n))
        if i % 3 == 0:
            raw = b"GET / HTTP/1.1\r\n" + raw
        resp = srv.exchange(raw + b"\r\n\r\n", shut=True)
        assert len(statuses(resp)) <= 2
    resp = srv.exchange(b"GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert statuses(resp) == [200]
    assert srv.msgs[-1][1] == "/ok"
