"""Static files: serve_dir / serve_file (docs/api.md 5.8, 7.8) fetched by
requests, raw sockets and curl."""

import gzip
import hashlib
import os
import shutil
import subprocess

import pytest
import requests

from pymongoose import MG_EV_CLOSE, MG_EV_HTTP_MSG, MG_EV_POLL, MG_EV_WRITE, HttpMessage

from conftest import connect, http_listen, poll_until, recv_all, run_client

SECRET = b"TOP-SECRET-OUTSIDE-THE-ROOT"


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "www"
    (root / "sub").mkdir(parents=True)
    (root / "list" / "inner").mkdir(parents=True)
    (tmp_path / "secret.txt").write_bytes(SECRET)
    files = {
        "hello.txt": b"hello world\n",
        "page.html": b"<p>hi</p>",
        "style.css": b"p{}",
        "app.js": b"console.log(1)",
        "data.json": b"{}",
        "img.png": b"\x89PNG",
        "noext": b"x",
        "file.weird": b"w",
        "sub/index.html": b"SUB INDEX",
        "list/a b.txt": b"a",
        "list/z.txt": b"z",
        "404.html": b"<h1>custom 404</h1>",
        "bin.dat": bytes(range(256)) * 64,
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    (root / "app.js.gz").write_bytes(gzip.compress(b"console.log('gzipped')"))
    os.symlink(tmp_path / "secret.txt", root / "escape.txt")
    os.symlink(tmp_path, root / "updir")
    return root


class Server:
    """HTTP listener whose handler calls ``serve(conn, msg)``; records the
    accepted connections' events."""

    def __init__(self, mgr, serve):
        self.serve = serve
        self.events = []
        self.max_send_len = 0
        self.polls_while_busy = 0
        _, self.port = http_listen(mgr, self)
        self.base = f"http://127.0.0.1:{self.port}"

    def __call__(self, c, ev, d):
        if c.is_listening:
            return
        self.events.append(ev)
        self.max_send_len = max(self.max_send_len, c.send_len)
        if ev == MG_EV_POLL and c.send_len > 0:
            self.polls_while_busy += 1
        if ev == MG_EV_HTTP_MSG:
            self.serve(c, d)


def raw(port, request):
    s = connect(port)
    try:
        s.sendall(request)
        return recv_all(s)
    finally:
        s.close()


def head_of(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        hdrs[k.strip().lower().decode()] = v.strip().decode()
    return status, hdrs, body


@pytest.fixture
def served(make_manager, tree):
    mgr = make_manager()
    srv = Server(mgr, lambda c, m: c.serve_dir(m, str(tree), extra_headers="X-Extra: 1\r\n"))
    return mgr, srv


@pytest.mark.parametrize("path,ctype", [
    ("/hello.txt", "text/plain; charset=utf-8"),
    ("/page.html", "text/html; charset=utf-8"),
    ("/style.css", "text/css; charset=utf-8"),
    ("/data.json", "application/json"),
    ("/img.png", "image/png"),
    ("/noext", "text/plain; charset=utf-8"),
    ("/file.weird", "text/plain; charset=utf-8"),
])
def test_content_types_and_bodies(served, tree, path, ctype):
    mgr, srv = served
    r = run_client(mgr, requests.get, srv.base + path)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == ctype
    assert r.headers["X-Extra"] == "1"
    assert r.content == (tree / path[1:]).read_bytes()


def test_custom_mime_types(make_manager, tree):
    mgr = make_manager()
    srv = Server(mgr, lambda c, m: c.serve_dir(m, str(tree), mime_types="weird=application/x-weird,txt=text/x-t"))
    r = run_client(mgr, requests.get, srv.base + "/file.weird")
    assert r.headers["Content-Type"] == "application/x-weird"
    r = run_client(mgr, requests.get, srv.base + "/hello.txt")
    assert r.headers["Content-Type"] == "text/x-t"
    srv2 = Server(mgr, lambda c, m: c.serve_dir(m, str(tree), mime_types="*=foo/bar"))
    r = run_client(mgr, requests.get, srv2.base + "/page.html")
    assert r.headers["Content-Type"] == "foo/bar"


def test_etag_and_304(served, tree):
    mgr, srv = served
    r = run_client(mgr, requests.get, srv.base + "/hello.txt")
    st = os.stat(tree / "hello.txt")
    assert r.headers["ETag"] == f'"{int(st.st_mtime)}.{st.st_size}"'
    r2 = run_client(mgr, lambda: requests.get(srv.base + "/hello.txt", headers={"If-None-Match": r.headers["ETag"]}))
    assert r2.status_code == 304 and r2.content == b""
    assert r2.headers["X-Extra"] == "1"
    r3 = run_client(mgr, lambda: requests.get(srv.base + "/hello.txt", headers={"If-None-Match": '"1.2"'}))
    assert r3.status_code == 200


@pytest.mark.parametrize("rng,first,last", [("bytes=0-0", 0, 0), ("bytes=100-299", 100, 299),
                                            ("bytes=16000-", 16000, 16383), ("bytes=-10", 16374, 16383),
                                            ("bytes=16380-99999", 16380, 16383)])
def test_range_206_exact_bytes(served, tree, rng, first, last):
    mgr, srv = served
    data = (tree / "bin.dat").read_bytes()
    r = run_client(mgr, lambda: requests.get(srv.base + "/bin.dat", headers={"Range": rng}))
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes {first}-{last}/{len(data)}"
    assert r.content == data[first:last + 1]
    assert int(r.headers["Content-Length"]) == last - first + 1


@pytest.mark.parametrize("rng", ["bytes=16384-", "bytes=20000-30000", "bytes=5-2", "bytes=-0"])
def test_range_416(served, rng):
    mgr, srv = served
    r = run_client(mgr, lambda: requests.get(srv.base + "/bin.dat", headers={"Range": rng}))
    assert r.status_code == 416
    assert r.headers["Content-Range"] == "bytes */16384"
    assert r.content == b""


def test_404_plain_and_page404(make_manager, tree):
    mgr = make_manager()
    plain = Server(mgr, lambda c, m: c.serve_dir(m, str(tree), "X-A: b\r\n"))
    r = run_client(mgr, requests.get, plain.base + "/nope.txt")
    assert r.status_code == 404 and r.content == b"Not found\n" and r.headers["X-A"] == "b"
    custom = Server(mgr, lambda c, m: c.serve_dir(m, str(tree), page404=str(tree / "404.html")))
    r = run_client(mgr, requests.get, custom.base + "/nope.txt")
    assert r.status_code == 404
    assert r.content == b"<h1>custom 404</h1>"
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    missing = Server(mgr, lambda c, m: c.serve_dir(m, str(tree), page404=str(tree / "none.html")))
    r = run_client(mgr, requests.get, missing.base + "/nope.txt")
    assert r.status_code == 404 and r.content == b"Not found\n"


def test_head_has_headers_and_no_body(served, tree):
    mgr, srv = served
    r = run_client(mgr, requests.head, srv.base + "/bin.dat")
    assert r.status_code == 200 and r.headers["Content-Length"] == "16384" and r.content == b""
    data = run_client(mgr, raw, srv.port, b"HEAD /hello.txt HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert data.endswith(b"X-Extra: 1\r\nConnection: close\r\n\r\n")


def test_gzip_variant(served):
    mgr, srv = served
    r = run_client(mgr, requests.get, srv.base + "/app.js")  # requests accepts gzip and decodes it
    assert r.headers["Content-Encoding"] == "gzip"
    assert r.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert r.content == b"console.log('gzipped')"
    r = run_client(mgr, lambda: requests.get(srv.base + "/app.js", headers={"Accept-Encoding": "identity"}))
    assert "Content-Encoding" not in r.headers and r.content == b"console.log(1)"


def test_directory_redirect_index_and_listing(served):
    mgr, srv = served
    r = run_client(mgr, lambda: requests.get(srv.base + "/sub", allow_redirects=False))
    assert r.status_code == 301 and r.headers["Location"] == "/sub/"
    r = run_client(mgr, requests.get, srv.base + "/sub")  # followed
    assert r.content == b"SUB INDEX"
    r = run_client(mgr, requests.get, srv.base + "/list/")
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
    html = r.text
    assert 'href="a%20b.txt"' in html and 'href="z.txt"' in html and 'href="inner/"' in html
    r = run_client(mgr, requests.get, srv.base + "/list/a%20b.txt")
    assert r.content == b"a"


TRAVERSALS = [
    b"/../secret.txt", b"/sub/../../secret.txt", b"/%2e%2e/secret.txt", b"/%2e%2e%2fsecret.txt",
    b"/sub/%2E%2E%2F%2E%2E%2Fsecret.txt", b"/..%5csecret.txt", b"/escape.txt", b"/updir/secret.txt",
    b"/updir/", b"/%2e%2e/www/hello.txt", b"/x%00.txt",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_never_leaves_the_root(served, path):
    mgr, srv = served
    data = run_client(mgr, raw, srv.port, b"GET " + path + b" HTTP/1.1\r\nConnection: close\r\n\r\n")
    status, _, body = head_of(data)
    assert SECRET not in data
    assert status == 400 and body == b"Invalid path"


def test_traversal_with_requests(served):
    mgr, srv = served
    for path in ["/../secret.txt", "/%2e%2e%2fsecret.txt", "/escape.txt", "/updir/secret.txt"]:
        r = run_client(mgr, requests.get, srv.base + path)
        assert SECRET not in r.content and r.status_code in (400, 404)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl(served, tree):
    mgr, srv = served
    curl = shutil.which("curl")

    def fetch(*args):
        return subprocess.run([curl, "-s", "-i", *args], capture_output=True, timeout=30).stdout

    out = run_client(mgr, fetch, srv.base + "/hello.txt")
    status, hdrs, body = head_of(out)
    assert status == 200 and hdrs["content-type"] == "text/plain; charset=utf-8" and body == b"hello world\n"
    out = run_client(mgr, fetch, "-r", "3-9", srv.base + "/bin.dat")
    status, hdrs, body = head_of(out)
    assert status == 206 and body == bytes(range(3, 10))
    out = run_client(mgr, fetch, "-H", f"If-None-Match: {hdrs['etag']}", srv.base + "/bin.dat")
    assert head_of(out)[0] == 304
    for path in ["/../secret.txt", "/%2e%2e/secret.txt", "/escape.txt", "/updir/secret.txt"]:
        out = run_client(mgr, fetch, "--path-as-is", srv.base + path)
        assert SECRET not in out and head_of(out)[0] == 400


def test_serve_file_ignores_uri(make_manager, tree):
    mgr = make_manager()
    srv = Server(mgr, lambda c, m: c.serve_file(m, str(tree / "page.html"), "X-F: 1\r\n"))
    r = run_client(mgr, requests.get, srv.base + "/anything/at/all")
    assert r.content == b"<p>hi</p>" and r.headers["X-F"] == "1"
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    srv2 = Server(mgr, lambda c, m: c.serve_file(m, str(tree / "missing.bin")))
    r = run_client(mgr, requests.get, srv2.base + "/")
    assert r.status_code == 404 and r.content == b"Not found\n"


def test_keepalive_session_and_pipelining(served, tree):
    mgr, srv = served

    def client():
        with requests.Session() as s:
            return [s.get(srv.base + p).content for p in ("/hello.txt", "/bin.dat", "/nope", "/sub/")]

    got = run_client(mgr, client)
    assert got == [b"hello world\n", (tree / "bin.dat").read_bytes(), b"Not found\n", b"SUB INDEX"]
    data = run_client(mgr, raw, srv.port, b"GET /hello.txt HTTP/1.1\r\n\r\nGET /page.html HTTP/1.1\r\n\r\n"
                      b"GET /sub/ HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert data.count(b"HTTP/1.1 200 OK") == 3
    assert data.endswith(b"SUB INDEX")


@pytest.fixture
def bigfile(tmp_path):
    path = tmp_path / "big.bin"
    block = hashlib.sha256(b"x").digest() * 2048  # 64 KiB
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for i in range(1024):  # 64 MiB
            b = bytes([i % 251]) + block[1:]
            f.write(b)
            h.update(b)
    return path, h.hexdigest()


def test_large_file_is_streamed_from_disk(make_manager, bigfile):
    path, digest = bigfile
    mgr = make_manager()
    srv = Server(mgr, lambda c, m: c.serve_file(m, str(path)))

    def client():
        h = hashlib.sha256()
        with requests.get(srv.base + "/", stream=True) as r:
            n = 0
            for chunk in r.iter_content(1 << 16):
                h.update(chunk)
                n += len(chunk)
        return r.status_code, n, h.hexdigest()

    status, n, got = run_client(mgr, client, timeout=120)
    assert (status, n, got) == (200, os.path.getsize(path), digest)
    # Only a window of the file is ever queued; the connection kept getting
    # its events (POLL while output was pending, many WRITEs).
    assert srv.max_send_len < 1 << 20
    ev = srv.events
    during = ev[ev.index(MG_EV_HTTP_MSG):len(ev) - ev[::-1].index(MG_EV_WRITE)]
    assert during.count(MG_EV_POLL) > 10
    assert srv.events.count(MG_EV_WRITE) > 10


def test_drain_waits_for_the_transfer(make_manager, bigfile):
    path, digest = bigfile
    mgr = make_manager()

    def serve(c, m):
        c.serve_file(m, str(path))
        c.drain()

    srv = Server(mgr, serve)
    data = run_client(mgr, raw, srv.port, b"GET / HTTP/1.1\r\n\r\n", timeout=120)
    status, hdrs, body = head_of(data)
    assert status == 200 and hashlib.sha256(body).hexdigest() == digest
    poll_until(mgr, lambda: MG_EV_CLOSE in srv.events)


def test_connection_close_after_streamed_file(make_manager, bigfile):
    path, digest = bigfile
    mgr = make_manager()
    srv = Server(mgr, lambda c, m: c.serve_file(m, str(path)))
    data = run_client(mgr, raw, srv.port, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", timeout=120)
    assert hashlib.sha256(head_of(data)[2]).hexdigest() == digest
    poll_until(mgr, lambda: MG_EV_CLOSE in srv.events)


def test_huge_sparse_file_range_and_head(make_manager, tmp_path):
    path = tmp_path / "sparse.bin"
    size = 6 * 1024 ** 3  # 6 GiB, mostly holes: never read whole
    with open(path, "wb") as f:
        f.seek(size - 5)
        f.write(b"TAIL!")
    mgr = make_manager()
    srv = Server(mgr, lambda c, m: c.serve_file(m, str(path)))
    r = run_client(mgr, lambda: requests.get(srv.base + "/", headers={"Range": "bytes=-5"}))
    assert r.status_code == 206 and r.content == b"TAIL!"
    r = run_client(mgr, requests.head, srv.base + "/")
    assert r.headers["Content-Length"] == str(size)
    # A client that reads a little and goes away: the transfer stops with the connection.
    def partial():
        s = connect(srv.port)
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        got = s.recv(65536)
        s.close()
        return got

    assert run_client(mgr, partial).startswith(b"HTTP/1.1 200 OK")
    poll_until(mgr, lambda: MG_EV_CLOSE in srv.events)


def test_argument_validation(make_manager, tree):
    mgr = make_manager()
    kept = []
    errors = []

    def serve(c, m):
        kept.append(m)
        for call, exc, text in [
            (lambda: c.serve_dir("not a message", str(tree)), TypeError,
             "Argument 'message' has incorrect type"),
            (lambda: c.serve_file(None, "x"), TypeError, "Argument 'message' has incorrect type"),
            (lambda: c.serve_dir(HttpMessage(), str(tree)), ValueError, "HttpMessage is not valid for this event"),
            (lambda: c.serve_dir(m, b"/tmp"), TypeError,
             r"Argument 'root_dir' has incorrect type \(expected str, got bytes\)"),
            (lambda: c.serve_file(m, 1), TypeError, "Argument 'path' has incorrect type"),
            (lambda: c.serve_dir(m, str(tree), extra_headers=b"x"), TypeError, "extra_headers"),
        ]:
            try:
                call()
                errors.append(f"no exception for {text}")
            except exc as e:
                import re
                if not re.search(text, str(e)):
                    errors.append(str(e))
        c.serve_dir(m, str(tree))

    srv = Server(mgr, serve)
    r = run_client(mgr, requests.get, srv.base + "/hello.txt")
    assert r.content == b"hello world\n"
    assert not errors
    conn = mgr.connect(f"tcp://127.0.0.1:{srv.port}", lambda *a: None)
    with pytest.raises(ValueError, match="not valid"):
        conn.serve_file(kept[0], str(tree / "hello.txt"))  # the view expired with its event
    conn.close()
    with pytest.raises(TypeError):
        conn.serve_dir(1, "x")
    with pytest.raises(ValueError, match="not valid"):
        conn.serve_file(kept[0], "x")  # validation comes before the closed check


def test_pipelined_request_waits_for_streamed_file(make_manager, bigfile):
    path, digest = bigfile
    mgr = make_manager()
    srv = Server(mgr, lambda c, m: c.serve_file(m, str(path)))
    req = b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nRange: bytes=-3\r\nConnection: close\r\n\r\n"
    data = run_client(mgr, raw, srv.port, req, timeout=120)
    size = os.path.getsize(path)
    status, hdrs, rest = head_of(data)
    assert status == 200 and hashlib.sha256(rest[:size]).hexdigest() == digest
    status2, hdrs2, body2 = head_of(rest[size:])
    assert status2 == 206 and body2 == path.read_bytes()[-3:]
    assert srv.events.count(MG_EV_HTTP_MSG) == 2
