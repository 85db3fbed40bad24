"""HTTP message framing of the engine's responses, with real clients (curl,
http.client, requests) and raw sockets for the exact bytes:

* no Content-Length (and no body) on 1xx, 204 and 304; HEAD gets the GET's
  Content-Length and no body (reply(), serve_file, serve_dir);
* ``Expect: 100-continue``: ``100 Continue`` once the engine waits for the
  body, a final status instead when the body is refused;
* absolute-form request targets are served by their path;
* ``Connection: close`` requests are answered with ``Connection: close`` and a
  close; HTTP/1.0 clients get ``Connection: keep-alive`` when their connection
  stays open, otherwise a close, and a streamed body without chunked coding.
"""

import http.client
import shutil
import subprocess

import pytest

from conftest import (
    WAIT,
    Client,
    ResponseReader,
    connect,
    content_length_line,
    http_listen,
    poll_until,
    recv_all,
    recv_exact,
    run_client,
)
from pymongoose import MG_EV_ACCEPT, MG_EV_CLOSE, MG_EV_HTTP_HDRS, MG_EV_HTTP_MSG

CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")

STREAM_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"


def app(conn, ev, data):
    """Routes of the server under test."""
    if ev != MG_EV_HTTP_MSG:
        return
    uri = data.uri
    if uri == "/204":
        conn.reply(204, b"ignored")
    elif uri == "/304":
        conn.reply(304, b"", {"ETag": '"v1"'})
    elif uri == "/early-hints":
        conn.reply(103, b"", {"Link": "</style.css>; rel=preload"})
        conn.reply(200, b"after hints")
    elif uri == "/stream":
        conn.send(STREAM_HEAD)  # the engine API's streaming: head with send(), then http_chunk()
        for part in (b"one ", b"two ", b"three"):
            conn.http_chunk(part)
        conn.http_chunk(b"")
    elif uri == "/events":
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        conn.http_sse("tick", "1")
        conn.http_sse("tick", "2")
        conn.http_chunk(b"")
    elif uri == "/upload":
        conn.reply(200, f"got {len(data.body_bytes)} bytes".encode())
    else:
        conn.reply(200, b"path " + uri.encode() + b" query " + data.query.encode())


@pytest.fixture
def server(make_manager, recorder):
    """``app`` on a free port: (manager, port, recorder)."""
    rec = recorder(app)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)
    return mgr, port, rec


def raw_exchange(port, request):
    """Write ``request`` on a new socket, read until the server closes."""
    s = connect(port)
    try:
        s.sendall(request)
        return recv_all(s)
    finally:
        s.close()


def curl(*args):
    r = subprocess.run([CURL, "-sS", "--max-time", str(int(WAIT)), *args], capture_output=True, timeout=2 * WAIT)
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


# --------------------------------------------------------------------------
# Content-Length: 1xx, 204, 304, HEAD
# --------------------------------------------------------------------------


def test_204_and_304_have_no_content_length_and_no_body(server):
    mgr, port, _ = server
    got = run_client(mgr, raw_exchange, port,
                     b"GET /204 HTTP/1.1\r\n\r\nGET /304 HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert got == (b"HTTP/1.1 204 No Content\r\nContent-Type: text/plain\r\n\r\n"
                   b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nConnection: close\r\n\r\n')

    def with_http_client():
        hc = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
        out = []
        for path in ("/204", "/304", "/after"):  # one keep-alive connection: framing must be exact
            hc.request("GET", path)
            r = hc.getresponse()
            length = r.getheader("Content-Length")
            out.append((r.status, length and length.strip(), r.read()))
        hc.close()
        return out

    assert run_client(mgr, with_http_client) == [
        (204, None, b""), (304, None, b""), (200, "18", b"path /after query ")]


def test_interim_1xx_then_final_response(server):
    mgr, port, _ = server
    got = run_client(mgr, raw_exchange, port, b"GET /early-hints HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert got == (b"HTTP/1.1 103 \r\nLink: </style.css>; rel=preload\r\n\r\n"
                   b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                   + content_length_line(11) + b"\r\nafter hints")
    if CURL:  # http.client (so requests) takes any 1xx but 100 for the final response; curl does not
        rc, out, err = run_client(mgr, curl, "-v", f"http://127.0.0.1:{port}/early-hints")
        assert out == b"after hints" and "< HTTP/1.1 103" in err and "< HTTP/1.1 200 OK" in err, err


def test_head_reply_has_the_get_length_and_no_body(server):
    mgr, port, _ = server

    def client():
        hc = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
        hc.request("GET", "/x?a=1")
        g = hc.getresponse()
        get = (g.getheader("Content-Length").strip(), g.read())
        hc.request("HEAD", "/x?a=1")
        h = hc.getresponse()
        head = (h.getheader("Content-Length").strip(), h.read())
        hc.request("GET", "/next")  # the HEAD response carried no body bytes
        n = hc.getresponse()
        nxt = n.read()
        hc.close()
        return get, head, nxt

    get, head, nxt = run_client(mgr, client)
    assert get == ("17", b"path /x query a=1")
    assert head == ("17", b"")
    assert nxt == b"path /next query "


@needs_curl
def test_head_on_static_files_with_curl(make_manager, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "big.bin").write_bytes(bytes(range(256)) * 1000)
    (root / "sub").mkdir()

    def handler(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            if data.uri == "/file":
                conn.serve_file(data, str(root / "big.bin"))
            else:
                conn.serve_dir(data, str(root))

    mgr = make_manager()
    _, port = http_listen(mgr, handler)
    base = f"http://127.0.0.1:{port}"
    for path in ("/file", "/big.bin"):
        rc, out, err = run_client(mgr, curl, "-I", base + path)
        assert rc == 0, err
        assert out.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: 256000\r\n" in out, out
        assert out.endswith(b"\r\n\r\n")  # curl -I prints the head only; a body would break its framing
    rc, out, err = run_client(mgr, curl, "-I", base + "/sub/")  # directory listing, a reply()
    assert rc == 0 and b"Content-Type: text/html" in out
    listing_len = int(out.split(b"Content-Length:")[1].split(b"\r\n")[0])
    rc, body, _ = run_client(mgr, curl, base + "/sub/")
    assert len(body) == listing_len > 0
    # Two HEADs on one connection: no body bytes after a HEAD head.
    rc, out, err = run_client(mgr, curl, "-v", "-I", base + "/big.bin", "-I", base + "/file")
    assert rc == 0 and out.count(b"Content-Length: 256000") == 2, out
    assert "Re-using existing connection" in err or "Reusing existing" in err, err
    # An HTTP/1.0 client: the file, Connection: close, then the close.
    rc, out, err = run_client(mgr, curl, "-0", "-v", base + "/big.bin")
    assert rc == 0 and out == bytes(range(256)) * 1000, err
    assert "< Connection: close" in err


# --------------------------------------------------------------------------
# Expect: 100-continue
# --------------------------------------------------------------------------


def test_expect_100_continue_exact_bytes(server):
    mgr, port, rec = server

    def client():
        s = connect(port)
        s.sendall(b"POST /upload HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
                  b"Connection: close\r\n\r\n")
        interim = recv_exact(s, 25)  # waits: the client sends nothing more before this
        s.sendall(b"hello")
        return interim, recv_all(s)

    interim, final = run_client(mgr, client)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert final == (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                     + content_length_line(11) + b"\r\ngot 5 bytes")


def test_expect_100_continue_refused_with_413_and_no_100(make_manager, recorder):
    rec = recorder(app)
    mgr = make_manager(max_body_size=1000)
    _, port = http_listen(mgr, rec)
    got = run_client(mgr, raw_exchange, port,
                     b"POST /upload HTTP/1.1\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n")
    assert got == (b"HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n" + content_length_line(0) + b"\r\n")
    assert not rec.has(MG_EV_HTTP_MSG)


@needs_curl
def test_curl_large_upload_gets_100_continue(server, tmp_path):
    """curl sends Expect: 100-continue on its own for bodies over 1 MiB."""
    mgr, port, _ = server
    f = tmp_path / "upload.bin"
    f.write_bytes(b"\xa5" * (3 << 20))
    rc, out, err = run_client(mgr, curl, "-v", "--data-binary", f"@{f}", f"http://127.0.0.1:{port}/upload")
    assert rc == 0, err
    assert out == b"got 3145728 bytes"
    assert "> Expect: 100-continue" in err and "< HTTP/1.1 100 Continue" in err, err


@needs_curl
def test_curl_upload_refused_by_max_body_size(make_manager, recorder, tmp_path):
    rec = recorder(app)
    mgr = make_manager(max_body_size=1 << 20)
    _, port = http_listen(mgr, rec)
    f = tmp_path / "upload.bin"
    f.write_bytes(b"x" * (2 << 20))
    rc, out, err = run_client(mgr, curl, "-v", "-H", "Expect: 100-continue", "--data-binary", f"@{f}",
                              "-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{port}/upload")
    assert out == b"413", err
    assert "100 Continue" not in err
    assert not rec.has(MG_EV_HTTP_MSG)


@needs_curl
def test_hdrs_handler_refuses_before_the_body(make_manager, recorder, tmp_path):
    """An MG_EV_HTTP_HDRS handler that replies answers the request: no 100, no
    MG_EV_HTTP_MSG, the connection closes after the answer."""

    def on(conn, ev, data):
        if ev == MG_EV_HTTP_HDRS and data.header("Authorization") is None:
            conn.reply(401, b"who are you?\n", {"WWW-Authenticate": 'Basic realm="up"'})
        elif ev == MG_EV_HTTP_MSG:
            conn.reply(200, f"stored {len(data.body_bytes)}".encode())

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)
    f = tmp_path / "upload.bin"
    f.write_bytes(b"y" * (2 << 20))
    url = f"http://127.0.0.1:{port}/up"
    rc, out, err = run_client(mgr, curl, "-v", "--data-binary", f"@{f}", url)
    assert out == b"who are you?\n" and "< HTTP/1.1 401 Unauthorized" in err, err
    assert "100 Continue" not in err and "< Connection: close" in err
    assert not rec.has(MG_EV_HTTP_MSG)
    rc, out, err = run_client(mgr, curl, "-v", "-u", "a:b", "--data-binary", f"@{f}", url)
    assert out == b"stored 2097152" and "< HTTP/1.1 100 Continue" in err, err


# --------------------------------------------------------------------------
# Absolute-form targets
# --------------------------------------------------------------------------


def test_absolute_form_target_parses_uri_stays_raw(server):
    mgr, port, _ = server
    got = run_client(mgr, raw_exchange, port,
                     f"GET http://127.0.0.1:{port}/p?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    body = f"path http://127.0.0.1:{port}/p query q=1".encode()
    assert got.startswith(b"HTTP/1.1 200 OK\r\n") and got.endswith(b"\r\n\r\n" + body)


@needs_curl
def test_serve_dir_maps_absolute_form_by_path(make_manager, tmp_path):
    """curl through a proxy sends absolute-form targets; the proxy here is the
    server itself (loopback), serving files by the target's path."""
    (tmp_path / "p.txt").write_bytes(b"the p file\n")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "index.html").write_bytes(b"<p>index</p>")

    def handler(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            conn.serve_dir(data, str(tmp_path))

    mgr = make_manager()
    _, port = http_listen(mgr, handler)
    proxy = f"http://127.0.0.1:{port}"
    rc, out, err = run_client(mgr, curl, "-v", "-x", proxy, "http://files.test/p.txt?q=1")
    assert rc == 0 and out == b"the p file\n", err
    assert "GET http://files.test/p.txt?q=1 HTTP/1.1" in err  # it really was absolute-form
    rc, out, err = run_client(mgr, curl, "-x", proxy, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                              "http://files.test/d")
    assert out == b"301 http://files.test/d/", err
    rc, out, err = run_client(mgr, curl, "-x", proxy, "http://files.test/d/")
    assert out == b"<p>index</p>", err


# --------------------------------------------------------------------------
# Connection: close and HTTP/1.0
# --------------------------------------------------------------------------


def test_connection_close_is_answered_with_connection_close(server):
    mgr, port, rec = server

    def client():
        hc = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
        out = []
        for path in ("/x", "/stream"):
            hc.request("GET", path, headers={"Connection": "close"})
            r = hc.getresponse()
            out.append((r.getheader("Connection"), r.read(), r.will_close))
            assert hc.sock is None  # http.client closed: the response said so
        return out

    assert run_client(mgr, client) == [("close", b"path /x query ", True), ("close", b"one two three", True)]
    poll_until(mgr, lambda: rec.count(MG_EV_CLOSE) == 2)
    assert rec.count(MG_EV_ACCEPT) == 2


def test_http10_stream_is_close_delimited_exact_bytes(server):
    mgr, port, _ = server
    got = run_client(mgr, raw_exchange, port, b"GET /stream HTTP/1.0\r\n\r\n")
    assert got == b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\none two three"
    got = run_client(mgr, raw_exchange, port, b"GET /events HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert got == (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                   b"event: tick\ndata: 1\n\nevent: tick\ndata: 2\n\n")


def test_http10_keep_alive_and_close(server):
    mgr, port, rec = server

    def client():
        s = connect(port)
        rd = ResponseReader(s)
        s.sendall(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        a = rd.read()
        s.sendall(b"GET /b HTTP/1.0\r\n\r\n")
        b = rd.read()
        return (a.header("Connection"), a.body), (b.header("Connection"), b.body), rd.at_eof()

    assert run_client(mgr, client) == (("keep-alive", b"path /a query "), ("close", b"path /b query "), True)
    poll_until(mgr, lambda: rec.count(MG_EV_CLOSE) == 1)


@needs_curl
def test_curl_http10(server):
    mgr, port, rec = server
    base = f"http://127.0.0.1:{port}"
    rc, out, err = run_client(mgr, curl, "-0", "-v", base + "/stream")
    assert rc == 0 and out == b"one two three", err
    assert "Transfer-Encoding" not in err and "< Connection: close" in err
    # HTTP/1.0 keep-alive: two requests on one connection.
    rc, out, err = run_client(mgr, curl, "-0", "-v", "-H", "Connection: keep-alive", base + "/one", base + "/two")
    assert rc == 0 and out == b"path /one query path /two query ", err
    assert "< Connection: keep-alive" in err
    poll_until(mgr, lambda: rec.count(MG_EV_HTTP_MSG) == 3)
    assert rec.count(MG_EV_ACCEPT) == 2
    assert rec.count(MG_EV_HTTP_MSG) == 3


def test_deferred_reply_to_connection_close_closes(make_manager, recorder):
    pending = []

    def on(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            pending.append(conn)  # answered later, outside the callback

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)

    def client():
        s = connect(port)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        return recv_all(s)

    def answer_when_asked():
        if pending:
            pending.pop().reply(200, b"later")

    cl = Client(client)
    poll_until(mgr, lambda: cl.done, before_poll=answer_when_asked, what="deferred reply")
    assert cl.result() == (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                           + content_length_line(5) + b"\r\nlater")
