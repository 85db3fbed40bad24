"""HTTP client side: connect(url, http=True), responses whatever their
framing (docs/api.md 7.3), against Python's http.server and our own server."""

import hashlib
import http.server
import socket
import threading

import pytest

from pymongoose import (
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
)

from conftest import http_listen, poll_until

BIG = hashlib.sha256(b"seed").digest() * (3 * 1024 * 1024 // 32 + 7)  # > 3 MiB


class PyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(BIG)))
        self.end_headers()

    def do_GET(self):
        if self.path == "/cl":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(BIG)))
            self.end_headers()
            self.wfile.write(BIG)
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(BIG), 300_000):
                part = BIG[i:i + 300_000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/close":
            # HTTP/1.0 style: no length, the end of the body is the close.
            self.protocol_version = "HTTP/1.0"
            self.send_response(200)
            self.end_headers()
            self.wfile.write(BIG)
            self.close_connection = True
        elif self.path == "/204":
            self.send_response(204)
            self.end_headers()
        else:
            self.send_error(404)

    def do_POST(self):
        n = int(self.headers["Content-Length"])
        body = self.rfile.read(n)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def pyserver():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), PyHandler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


class Fetch:
    """Our client: sends ``request`` on MG_EV_CONNECT, records events and
    responses; closes itself after ``want`` responses (if given)."""

    def __init__(self, mgr, url, request, want=None, on_connect=None):
        self.events = []
        self.msgs = []
        self.hdrs = []
        self.want = want
        self.on_connect = on_connect
        self.request = request
        self.conn = mgr.connect(url, self, http=True)

    def __call__(self, c, ev, d):
        if ev != MG_EV_POLL:
            self.events.append(ev)
        if ev == MG_EV_CONNECT:
            if self.on_connect:
                self.on_connect(c)
            else:
                c.send(self.request)
        elif ev == MG_EV_HTTP_HDRS:
            self.hdrs.append(d.status())
        elif ev == MG_EV_HTTP_MSG:
            self.msgs.append({
                "status": d.status(), "method": d.method, "uri": d.uri, "proto": d.proto,
                "headers": dict((k.lower(), v) for k, v in d.headers()),
                "ctype": d.header("content-type"), "body": d.body_bytes,
            })
            if self.want is not None and len(self.msgs) == self.want:
                c.close()

    @property
    def closed(self):
        return MG_EV_CLOSE in self.events


def run(mgr, f):
    poll_until(mgr, lambda: f.closed, what="client connection closed")
    return f


def test_content_length_body_over_1mib(make_manager, pyserver):
    mgr = make_manager()
    f = run(mgr, Fetch(mgr, f"http://127.0.0.1:{pyserver}", b"GET /cl HTTP/1.1\r\nHost: x\r\n\r\n", want=1))
    (m,) = f.msgs
    assert (m["status"], m["method"], m["uri"], m["proto"]) == (200, "HTTP/1.1", "200", "OK")
    assert m["ctype"] == "application/octet-stream"
    assert m["body"] == BIG
    assert f.events[:3] == [MG_EV_OPEN, MG_EV_RESOLVE, MG_EV_CONNECT]
    assert MG_EV_WRITE in f.events
    i = f.events.index(MG_EV_HTTP_MSG)
    assert f.events[i - 1] == MG_EV_HTTP_HDRS or MG_EV_HTTP_HDRS in f.events[:i]


def test_chunked_body(make_manager, pyserver):
    mgr = make_manager()
    f = run(mgr, Fetch(mgr, f"http://127.0.0.1:{pyserver}", b"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n", want=1))
    (m,) = f.msgs
    assert m["status"] == 200 and m["headers"]["transfer-encoding"] == "chunked"
    assert m["body"] == BIG


def test_close_delimited_body(make_manager, pyserver):
    mgr = make_manager()
    f = run(mgr, Fetch(mgr, f"http://127.0.0.1:{pyserver}", b"GET /close HTTP/1.0\r\n\r\n"))
    (m,) = f.msgs
    assert m["method"] == "HTTP/1.0" and m["body"] == BIG
    # The response ends with the connection: HTTP_MSG comes right before CLOSE.
    assert f.events[-2:] == [MG_EV_HTTP_MSG, MG_EV_CLOSE]


def test_keepalive_sequence_204_head_post(make_manager, pyserver):
    mgr = make_manager()
    req = (b"GET /204 HTTP/1.1\r\nHost: x\r\n\r\n"
           b"HEAD /cl HTTP/1.1\r\nHost: x\r\n\r\n"
           b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
           b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n")
    f = run(mgr, Fetch(mgr, f"http://127.0.0.1:{pyserver}", req, want=4))
    assert [m["status"] for m in f.msgs] == [204, 200, 200, 404]
    assert f.msgs[0]["body"] == b""
    # A response to HEAD has no body, whatever its Content-Length says.
    assert f.msgs[1]["body"] == b"" and f.msgs[1]["headers"]["content-length"] == str(len(BIG))
    assert f.msgs[2]["body"] == b"hello"
    assert f.hdrs == [204, 200, 200, 404]


def test_request_written_in_pieces_with_head(make_manager, pyserver):
    mgr = make_manager()

    def on_connect(c):
        for part in (b"HE", b"AD /cl HTTP/1.1\r\nHo", b"st: x\r\n", b"\r\n", b"GET /cl HTTP/1.1\r\n\r\n"):
            c.send(part)

    f = run(mgr, Fetch(mgr, f"http://127.0.0.1:{pyserver}", None, want=2, on_connect=on_connect))
    assert [len(m["body"]) for m in f.msgs] == [0, len(BIG)]


def test_refused_connection_gives_error_then_close(make_manager):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    mgr = make_manager()
    errors = []
    f = Fetch(mgr, f"http://127.0.0.1:{port}", b"GET / HTTP/1.1\r\n\r\n")
    run(mgr, f)
    assert f.events == [MG_EV_OPEN, MG_EV_RESOLVE, MG_EV_ERROR, MG_EV_CLOSE]
    assert not f.msgs and not errors


def test_fetch_from_our_own_server(make_manager):
    mgr = make_manager()

    def server(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            if d.uri == "/big":
                c.reply(200, BIG, headers={"Content-Type": "application/x-big"})
            elif d.uri == "/chunked":
                c.reply(200, b"", headers={"Transfer-Encoding": "chunked"})
                for i in range(0, len(BIG), 500_000):
                    c.http_chunk(BIG[i:i + 500_000])
                c.http_chunk(b"")
            elif d.uri == "/auth":
                c.reply(200, d.header("Authorization", "none"))

    _, port = http_listen(mgr, server)

    def on_connect(c):
        c.send(b"GET /big HTTP/1.1\r\n\r\nGET /chunked HTTP/1.1\r\n\r\nGET /auth HTTP/1.1\r\n")
        c.http_basic_auth("user", "pass")
        c.send(b"\r\nGET /auth HTTP/1.1\r\n")
        c.http_basic_auth("only", "")
        c.send(b"\r\n")

    f = run(mgr, Fetch(mgr, f"http://127.0.0.1:{port}", None, want=4, on_connect=on_connect))
    assert [m["status"] for m in f.msgs] == [200] * 4
    assert f.msgs[0]["body"] == BIG and f.msgs[0]["ctype"] == "application/x-big"
    assert f.msgs[1]["body"] == BIG
    assert f.msgs[2]["body"] == b"Basic dXNlcjpwYXNz"
    assert f.msgs[3]["body"] == b"Basic b25seQ=="


def test_http_basic_auth_bytes_on_the_wire(make_manager):
    mgr = make_manager()
    c = mgr.connect("tcp://127.0.0.1:9", lambda *a: None)
    c.http_basic_auth("Aladdin", "open sesame")
    assert c.send_data() == b"Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"
    with pytest.raises(TypeError, match=r"Argument 'username' has incorrect type \(expected str, got bytes\)"):
        c.http_basic_auth(b"a", "b")
    with pytest.raises(TypeError, match="password"):
        c.http_basic_auth("a", None)
    c.close()
    with pytest.raises(RuntimeError, match="Connection has been closed"):
        c.http_basic_auth("a", "b")
    with pytest.raises(TypeError):
        c.http_basic_auth("a", 1)


def test_response_header_access_and_read_event(make_manager, pyserver):
    mgr = make_manager()
    f = run(mgr, Fetch(mgr, f"http://127.0.0.1:{pyserver}", b"GET /missing HTTP/1.1\r\nConnection: close\r\n\r\n"))
    (m,) = f.msgs
    assert m["status"] == 404 and m["proto"] == "Not Found"
    assert "content-length" in m["headers"]
    i = f.events.index(MG_EV_HTTP_MSG)
    assert MG_EV_READ in f.events[i:]


def test_close_delimited_from_our_own_server(make_manager):
    mgr = make_manager()

    def server(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            c.send(b"HTTP/1.1 200 OK\r\nX-Kind: raw\r\n\r\n" + BIG)  # no length: the close ends it
            c.drain()

    _, port = http_listen(mgr, server)
    f = run(mgr, Fetch(mgr, f"http://127.0.0.1:{port}", b"GET / HTTP/1.1\r\n\r\n"))
    (m,) = f.msgs
    assert m["headers"]["x-kind"] == "raw" and m["body"] == BIG
    assert f.events[-2:] == [MG_EV_HTTP_MSG, MG_EV_CLOSE]
