"""pymongoose.wsgi: a WSGI server answering real clients (docs/api.md 19.10)."""

import hashlib
import io
import socket
import struct
import sys
import threading
import time

import pytest

from pymongoose.wsgi import FileWrapper, WSGIServer

from conftest import WAIT

requests = pytest.importorskip("requests")
flask = pytest.importorskip("flask")


class Served:
    """A WSGIServer run by a background thread (run() polls until close())."""

    def __init__(self, app, **kwargs):
        self.server = WSGIServer(app, **kwargs)
        lst = self.server.listen("http://127.0.0.1:0")
        self.port = lst.local_addr[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.run, kwargs={"poll_ms": 20}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.close()
        self.thread.join(WAIT)
        assert not self.thread.is_alive()


@pytest.fixture
def serve_app():
    made = []

    def make(app, **kwargs):
        s = Served(app, **kwargs)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def make_flask():
    app = flask.Flask("wsgi_test")

    @app.route("/")
    def index():
        return "hello from flask"

    @app.route("/json", methods=["POST"])
    def echo_json():
        data = flask.request.get_json()
        return flask.jsonify(got=data, method=flask.request.method)

    @app.route("/path/<name>")
    def path(name):
        return flask.jsonify(name=name, q=flask.request.args.get("q"),
                             path=flask.request.path, host=flask.request.host)

    @app.route("/headers")
    def headers():
        return flask.jsonify(ua=flask.request.headers.get("X-Test"),
                             multi=flask.request.headers.get("X-Multi"))

    @app.route("/missing")
    def missing():
        flask.abort(404)

    @app.route("/cookies")
    def cookies():
        r = flask.make_response("cookies")
        r.set_cookie("a", "1")
        r.set_cookie("b", "2")
        r.status_code = 201
        return r

    @app.route("/boom")
    def boom():
        raise RuntimeError("boom")

    app.config["PROPAGATE_EXCEPTIONS"] = True

    @app.route("/big")
    def big():
        def gen():
            block = bytes(range(256)) * 1024  # 256 KiB
            for i in range(8):  # 2 MiB
                yield bytes([i]) + block[1:]

        return flask.Response(gen(), mimetype="application/octet-stream")

    @app.route("/upload", methods=["POST"])
    def upload():
        data = flask.request.get_data()
        return hashlib.sha256(data).hexdigest()

    return app


def test_flask_basic_routes(serve_app):
    s = serve_app(make_flask())
    with requests.Session() as sess:  # keep-alive: several requests on one connection
        r = sess.get(s.base + "/", timeout=WAIT)
        assert r.status_code == 200
        assert r.text == "hello from flask"
        assert r.headers["Content-Type"].startswith("text/html")
        r = sess.post(s.base + "/json", json={"a": [1, 2]}, timeout=WAIT)
        assert r.status_code == 200
        assert r.json() == {"got": {"a": [1, 2]}, "method": "POST"}
        r = sess.get(s.base + "/path/caf%C3%A9?q=x%20y", timeout=WAIT)
        assert r.json() == {"name": "café", "q": "x y", "path": "/path/café",
                            "host": f"127.0.0.1:{s.port}"}
        r = sess.get(s.base + "/missing", timeout=WAIT)
        assert r.status_code == 404
        r = sess.get(s.base + "/headers", headers={"X-Test": "yes"}, timeout=WAIT)
        assert r.json()["ua"] == "yes"


def test_duplicate_response_headers_kept(serve_app):
    s = serve_app(make_flask())
    r = requests.get(s.base + "/cookies", timeout=WAIT)
    assert r.status_code == 201
    assert r.text == "cookies"
    assert r.cookies.get("a") == "1" and r.cookies.get("b") == "2"
    assert len(r.raw.headers.getlist("Set-Cookie")) == 2


def test_app_exception_gives_500(serve_app, capfd):
    s = serve_app(make_flask())
    r = requests.get(s.base + "/boom", timeout=WAIT)
    assert r.status_code == 500
    assert r.text == "Internal Server Error"
    # the connection keeps serving
    assert requests.get(s.base + "/", timeout=WAIT).status_code == 200
    assert "RuntimeError: boom" in capfd.readouterr().err


def test_big_generator_is_streamed_chunked(serve_app):
    s = serve_app(make_flask())
    r = requests.get(s.base + "/big", timeout=WAIT)
    assert r.status_code == 200
    assert r.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in r.headers
    block = bytes(range(256)) * 1024
    expected = b"".join(bytes([i]) + block[1:] for i in range(8))
    assert len(r.content) == len(expected)
    assert r.content == expected


def test_large_upload_and_small_body_under_threshold(serve_app):
    s = serve_app(make_flask())
    data = bytes(range(256)) * 4096  # 1 MiB
    r = requests.post(s.base + "/upload", data=data, timeout=WAIT)
    assert r.status_code == 200
    assert r.text == hashlib.sha256(data).hexdigest()


def test_raw_wsgi_app_environ_and_write(serve_app):
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        body = environ["wsgi.input"].read()
        write = start_response("299 Custom Thing", [("X-A", "1"), ("X-A", "2")])
        write(b"written;")
        return [b"body:", body]

    s = serve_app(app)
    r = requests.post(s.base + "/a%20b/c?x=1&y=2", data=b"payload",
                      headers={"X-Multi": "one", "Content-Type": "text/x-test"}, timeout=WAIT)
    assert r.status_code == 299
    assert r.content == b"written;body:payload"
    assert "Content-Type" not in r.headers  # none invented
    assert r.headers["Transfer-Encoding"] == "chunked"  # write() went out before the length was known
    assert r.raw.headers.getlist("X-A") == ["1", "2"]
    assert seen["REQUEST_METHOD"] == "POST"
    assert seen["SCRIPT_NAME"] == ""
    assert seen["PATH_INFO"] == "/a b/c"
    assert seen["QUERY_STRING"] == "x=1&y=2"
    assert seen["SERVER_NAME"] == "127.0.0.1"
    assert seen["SERVER_PORT"] == str(s.port)
    assert seen["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert seen["CONTENT_TYPE"] == "text/x-test"
    assert seen["CONTENT_LENGTH"] == "7"
    assert seen["REMOTE_ADDR"] == "127.0.0.1"
    assert seen["HTTP_X_MULTI"] == "one"
    assert seen["wsgi.url_scheme"] == "http"
    assert seen["wsgi.multithread"] is True
    assert seen["wsgi.multiprocess"] is False
    assert seen["wsgi.run_once"] is False
    assert seen["wsgi.file_wrapper"] is FileWrapper
    assert "HTTP_CONTENT_TYPE" not in seen


def test_repeated_request_headers_joined(serve_app):
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    s = serve_app(app)
    with socket.create_connection(("127.0.0.1", s.port), timeout=WAIT) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Dup: a\r\nX-Dup: b\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\nok")
    assert seen["HTTP_X_DUP"] == "a, b"


def test_file_wrapper(serve_app):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"x" * 20000), 4096)

    s = serve_app(app)
    r = requests.get(s.base + "/", timeout=WAIT)
    assert r.content == b"x" * 20000
    fw = FileWrapper(io.StringIO("abc"), 2)
    assert list(fw) == [b"ab", b"c"]
    fw.close()


def test_streaming_is_incremental_and_bounded(serve_app):
    """A streamed response reaches the client while the app still produces it."""
    gate = threading.Event()
    produced = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])

        def gen():
            yield b"a" * (1 << 20)  # reaches the threshold: streaming starts
            produced.append(1)
            assert gate.wait(WAIT)
            yield b"b" * 10

        return gen()

    s = serve_app(app)
    with requests.get(s.base + "/", stream=True, timeout=WAIT) as r:
        assert r.headers["Transfer-Encoding"] == "chunked"
        got = b""
        it = r.iter_content(65536)
        while len(got) < (1 << 20):
            got += next(it)
        assert not gate.is_set()  # the first MiB arrived before the app finished
        gate.set()
        got += b"".join(it)
    assert got == b"a" * (1 << 20) + b"b" * 10


def test_stalled_client_aborts_stream(serve_app):
    """A client that stops reading: the worker gives up after stream_timeout."""
    finished = threading.Event()
    errors = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])

        def gen():
            try:
                for _ in range(400):  # 100 MiB if nobody stopped it
                    yield b"z" * (256 * 1024)
            except GeneratorExit:
                errors.append("closed")
                raise
            finally:
                finished.set()

        return gen()

    s = serve_app(app, stream_timeout=0.5)
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=WAIT)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert finished.wait(WAIT * 2), "worker still streaming to a client that does not read"
    assert errors == ["closed"]
    sock.close()


def test_client_gone_discards_pending(serve_app):
    release = threading.Event()
    entered = threading.Event()
    done = threading.Event()

    def app(environ, start_response):
        entered.set()
        release.wait(WAIT)
        start_response("200 OK", [("Content-Type", "text/plain")])
        done.set()
        return [b"late" * 5000]

    s = serve_app(app)
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=WAIT)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert entered.wait(WAIT)
    # a reset, not a half-close (after which the client could still read)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    deadline = time.monotonic() + WAIT
    while s.server._conns:  # the server noticed the close
        assert time.monotonic() < deadline
        time.sleep(0.01)
    release.set()
    assert done.wait(WAIT)
    # the server is still healthy
    r = requests.get(s.base + "/", timeout=WAIT)
    assert r.text == "late" * 5000
    assert not s.server._done  # nothing left in the hand-off queue


def test_concurrent_requests_use_the_pool(serve_app):
    barrier = threading.Barrier(3, timeout=WAIT)

    def app(environ, start_response):
        barrier.wait()  # three requests must be in the app at the same time
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    s = serve_app(app, workers=3)
    results = {}

    def get(i):
        results[i] = requests.get(f"{s.base}/{i}", timeout=WAIT).text

    ths = [threading.Thread(target=get, args=(i,)) for i in range(3)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(WAIT)
    assert results == {0: "/0", 1: "/1", 2: "/2"}


def test_close_without_run_and_manager_property():
    srv = WSGIServer(make_flask())
    lst = srv.listen("http://127.0.0.1:0")
    assert lst.is_listening
    assert srv.manager is not None
    srv.close()
    srv.close()  # idempotent


def test_head_request(serve_app):
    s = serve_app(make_flask())
    r = requests.head(s.base + "/", timeout=WAIT)
    assert r.status_code == 200
    assert r.content == b""
    assert requests.get(s.base + "/", timeout=WAIT).text == "hello from flask"


SERVE_SCRIPT = r"""
import sys
from pymongoose.wsgi import serve

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"served by serve()"]

serve(app, "http://127.0.0.1:0", workers=2)
print("stopped", flush=True)
"""


def test_serve_runs_until_sigint(tmp_path):
    import re
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", SERVE_SCRIPT], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert m, (line, proc.poll() is not None and proc.stderr.read())
        assert "2 workers" in line
        r = requests.get(f"http://127.0.0.1:{m.group(1)}/", timeout=WAIT)
        assert r.text == "served by serve()"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, err
        assert "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- PEP 3333 conformance, both ways of running the application ------------

WORKER_MODES = [pytest.param(0, id="poll-thread"), pytest.param(4, id="threads")]


def _shapes():
    """Applications of every result shape PEP 3333 allows."""

    def listed(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        return [b"li", b"st"]

    def generated(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"gen"
        yield b""
        yield b"erated"

    def written(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"wri")
        return [b"tten"]

    def wrapped(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"w" * 10000), 999)

    def echoed(environ, start_response):
        inp = environ["wsgi.input"]
        first = inp.readline()
        rest = inp.readlines()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [first, b"|", b"".join(rest)]

    return {"/list": (listed, b"list"), "/gen": (generated, b"generated"),
            "/write": (written, b"written"), "/file": (wrapped, b"w" * 10000),
            "/echo": (echoed, b"a\n|b\nc")}


@pytest.mark.parametrize("workers", WORKER_MODES)
def test_pep3333_validator_accepts_every_shape(serve_app, workers):
    from wsgiref.validate import validator

    shapes = _shapes()

    def app(environ, start_response):
        return shapes[environ["PATH_INFO"]][0](environ, start_response)

    s = serve_app(validator(app), workers=workers)
    with requests.Session() as sess:
        for path, (_, expected) in shapes.items():
            if path == "/echo":
                r = sess.post(s.base + path, data=b"a\nb\nc", timeout=WAIT)
            else:
                r = sess.get(s.base + path, timeout=WAIT)
            assert r.status_code == 200, (path, r.text)
            assert r.content == expected, path
            r = sess.head(s.base + path, timeout=WAIT)
            assert r.status_code == 200 and r.content == b"", path


@pytest.mark.parametrize("workers", WORKER_MODES)
def test_iterable_close_always_called(serve_app, workers, capfd):
    closed = []

    class Body:
        def __init__(self, fail):
            self.fail = fail

        def __iter__(self):
            yield b"one"
            if self.fail:
                raise RuntimeError("failing body")
            yield b"two"

        def close(self):
            closed.append(self.fail)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "6")])
        return Body(environ["PATH_INFO"] == "/fail")

    s = serve_app(app, workers=workers)
    assert requests.get(s.base + "/", timeout=WAIT).content == b"onetwo"
    with pytest.raises(requests.RequestException):  # 6 bytes announced, 3 sent, then a close
        requests.get(s.base + "/fail", timeout=WAIT)
    deadline = time.monotonic() + WAIT
    while len(closed) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert sorted(closed) == [False, True]
    assert "failing body" in capfd.readouterr().err


@pytest.mark.parametrize("workers", WORKER_MODES)
def test_app_errors_give_500_and_keep_serving(serve_app, workers, capfd):
    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/twice":
            start_response("200 OK", [])
            start_response("200 OK", [])
        elif path == "/str":
            start_response("200 OK", [])
            return ["not bytes"]
        elif path == "/before":
            return [b"no start_response"]
        elif path == "/twoheaders":  # the same header text as /badheader's, valid
            start_response("200 OK", [("X-Bad", "a"), ("Injected", "yes"), ("Content-Length", "2")])
            return [b"ok"]
        elif path == "/badheader":
            start_response("200 OK", [("X-Bad", "a\r\nInjected: yes"), ("Content-Length", "2")])
        elif path == "/euro":
            start_response("200 OK", [("X-Euro", "\u20ac")])
        elif path == "/status":
            start_response("OK", [])
        else:
            start_response("200 OK", [("Content-Length", "2")])
            return [b"ok"]
        return [b"x"]

    s = serve_app(app, workers=workers)
    with socket.create_connection(("127.0.0.1", s.port), timeout=WAIT) as sock:
        for path in ("/twice", "/str", "/before", "/twoheaders", "/badheader", "/euro", "/status", "/"):
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(1)
            assert path == "/twoheaders" or b"Injected" not in head
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            body = b""
            while len(body) < length:
                body += sock.recv(length - len(body))
            if path in ("/", "/twoheaders"):
                assert head.startswith(b"HTTP/1.1 200 OK\r\n") and body == b"ok"
            else:
                assert head.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), path
    err = capfd.readouterr().err
    assert "start_response() called twice" in err and "latin-1" in err


def test_workers_0_runs_on_the_poll_thread(serve_app):
    seen = {}

    def app(environ, start_response):
        seen["thread"] = threading.current_thread()
        seen["multithread"] = environ["wsgi.multithread"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"here"]

    s = serve_app(app, workers=0)
    assert requests.get(s.base + "/", timeout=WAIT).text == "here"
    assert seen["thread"] is s.thread
    assert seen["multithread"] is False


def test_workers_0_large_generator_pulled_with_back_pressure(serve_app):
    """On the poll thread a large iterable is pulled as the connection's
    send buffer empties, and the connection then serves the next request."""
    block = bytes(range(256)) * 256  # 64 KiB
    pulled = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])

        def gen():
            for i in range(128):  # 8 MiB
                pulled.append(i)
                yield bytes([i]) + block[1:]
        return gen() if environ["PATH_INFO"] == "/big" else [b"small"]

    s = serve_app(app, workers=0)
    with socket.create_connection(("127.0.0.1", s.port), timeout=WAIT) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /small HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(1024)
        assert first.startswith(b"HTTP/1.1 200 OK\r\n") and b"Transfer-Encoding: chunked" in first
        assert len(pulled) < 128  # not everything was produced ahead of the client
        sock.settimeout(WAIT)
        data = first
        while not data.endswith(b"\r\n\r\nsmall"):
            chunk = sock.recv(1 << 20)
            assert chunk, "connection closed early"
            data += chunk
    body = data.split(b"\r\n\r\n", 1)[1]
    payload = b""
    while True:
        size_line, body = body.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            break
        payload += body[:size]
        body = body[size + 2:]
    assert payload == b"".join(bytes([i]) + block[1:] for i in range(128))


def test_worker_blocks_while_send_buffer_is_full(serve_app):
    produced = []
    started = threading.Event()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])

        def gen():
            started.set()
            for _ in range(1024):  # 256 MiB if nothing stopped it
                produced.append(1)
                yield b"z" * (256 * 1024)
        return gen()

    s = serve_app(app, workers=2, stream_timeout=WAIT)
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=WAIT)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert started.wait(WAIT)
        deadline = time.monotonic() + WAIT
        while not any(ex.waiting for st in list(s.server._conns.values())
                      for ex in [st.exchange] if ex is not None):
            assert time.monotonic() < deadline, "the worker never waited for room"
            time.sleep(0.01)
        assert len(produced) < 64  # under 16 MiB produced for a client that reads nothing
    finally:
        sock.close()


def test_environ_root_path_tls_and_limits(serve_app, tmp_path):
    x509 = pytest.importorskip("cryptography.x509")
    import datetime
    import ipaddress
    import ssl

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.TraditionalOpenSSL,
                                          serialization.NoEncryption()))
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["wsgi.input"].read()]

    s = serve_app(app, workers=0, root_path="/mount", ssl_certfile=str(certfile),
                  ssl_keyfile=str(keyfile), limits={"max_body_size": 1000})
    base = f"https://127.0.0.1:{s.port}"
    r = requests.post(base + "/mount/a/b?x=1", data=b"body", verify=str(certfile), timeout=WAIT)
    assert r.text == "body"
    assert seen["wsgi.url_scheme"] == "https"
    assert (seen["SCRIPT_NAME"], seen["PATH_INFO"], seen["QUERY_STRING"]) == ("/mount", "/a/b", "x=1")
    assert seen["REMOTE_ADDR"] == "127.0.0.1" and int(seen["REMOTE_PORT"]) > 0
    assert seen["SERVER_NAME"] == "127.0.0.1" and seen["SERVER_PORT"] == str(s.port)
    ctx = ssl.create_default_context(cafile=str(certfile))
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", s.port), timeout=WAIT),
                         server_hostname="127.0.0.1") as tls:
        # over the limit: refused before the body is sent, even though the client waits for 100
        tls.sendall(b"POST /mount/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
                    b"Expect: 100-continue\r\n\r\n")
        answer = tls.recv(4096)
        assert answer.startswith(b"HTTP/1.1 413 ")
    with pytest.raises(ValueError):
        WSGIServer(app, workers=-1)
    with pytest.raises(TypeError):
        WSGIServer(app, limits={"no_such_limit": 1})
    with pytest.raises(ValueError):
        WSGIServer(app, ssl_certfile=str(certfile))


@pytest.mark.parametrize("workers", WORKER_MODES)
def test_expect_100_continue_answered_once(serve_app, workers):
    def app(environ, start_response):
        data = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Length", str(len(data)))])
        return [data]

    s = serve_app(app, workers=workers)
    with socket.create_connection(("127.0.0.1", s.port), timeout=WAIT) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        early = b""
        while not early.endswith(b"\r\n\r\n"):  # the client waits for it before the body
            early += sock.recv(4096)
        assert early == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        data = b""
        while not data.endswith(b"hello"):
            chunk = sock.recv(4096)
            assert chunk
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"100 Continue" not in data  # once: the engine sends it, the adapter never adds one


GRACEFUL_SCRIPT = r"""
import os, sys, time
from pymongoose.wsgi import serve

gate = sys.argv[1]

def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        open(gate + ".entered", "w").close()
        deadline = time.monotonic() + 30
        while not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.01)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
    return [b"done"]

serve(app, "http://127.0.0.1:0", workers=2, graceful_timeout=20)
print("stopped", flush=True)
"""


def test_graceful_shutdown(tmp_path):
    import re
    import signal
    import subprocess
    import sys

    gate = tmp_path / "gate"
    proc = subprocess.Popen([sys.executable, "-c", GRACEFUL_SCRIPT, str(gate)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)", line).group(1))
        idle = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert idle.recv(4096).endswith(b"\r\n\r\ndone")  # now an idle keep-alive connection
        busy = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        busy.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        deadline = time.monotonic() + WAIT
        while not (tmp_path / "gate.entered").exists():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        assert idle.recv(4096) == b""  # idle connections are closed
        deadline = time.monotonic() + WAIT
        while True:  # the port is freed while the slow request is still in the app
            try:
                socket.create_connection(("127.0.0.1", port), timeout=WAIT).close()
            except ConnectionRefusedError:
                break
            assert time.monotonic() < deadline, "listener still open"
            time.sleep(0.01)
        assert proc.poll() is None
        gate.write_bytes(b"")
        data = b""
        while True:
            chunk = busy.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\ndone")
        assert b"Connection: close\r\n" in data
        out, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, err
        assert "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_self_driven_poll_is_woken_by_a_worker():
    """server.poll(long) returns when a worker hands a response over: a
    missing wakeup would leave it waiting for the whole timeout (and the
    test's watchdog would fail it)."""
    entered, release = threading.Event(), threading.Event()

    def app(environ, start_response):
        entered.set()
        assert release.wait(WAIT)
        start_response("200 OK", [("Content-Length", "4")])
        return [b"done"]

    srv = WSGIServer(app, workers=1)
    try:
        port = srv.listen("http://127.0.0.1:0").local_addr[1]
        sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        while not entered.is_set():
            srv.poll(10)

        def let_go():  # once the poll thread waits
            while not srv._sleeping:
                time.sleep(0.001)
            release.set()

        threading.Thread(target=let_go, daemon=True).start()
        srv.poll(600_000)  # returns on the worker's hand-off, its response queued
        srv.poll(0)  # written
        assert sock.recv(4096).endswith(b"\r\n\r\ndone")
        sock.close()
    finally:
        srv.close()


def _read_response(sock, buf=b""):
    """One response from a raw socket: (head, body, rest). Content-Length,
    chunked or (when neither) close-delimited framing."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, "closed before a response head"
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(b":") for ln in lines[1:])}
    if b"content-length" in headers:
        n = int(headers[b"content-length"])
        while len(buf) < n:
            buf += sock.recv(65536)
        return head, buf[:n], buf[n:]
    if headers.get(b"transfer-encoding") == b"chunked":
        body = b""
        while True:
            while b"\r\n" not in buf:
                buf += sock.recv(65536)
            size_line, buf = buf.split(b"\r\n", 1)
            size = int(size_line, 16)
            while len(buf) < size + 2:
                buf += sock.recv(65536)
            body, buf = body + buf[:size], buf[size + 2:]
            if size == 0:
                return head, body, buf
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return head, buf, b""
        buf += chunk


@pytest.mark.parametrize("workers", WORKER_MODES)
def test_framing_and_connection_handling(serve_app, workers):
    """HTTP/1.0 and Connection: close, the app's Content-Length, chunked
    for unknown lengths, HEAD, 204/304 and exc_info, with either way of
    running the app."""
    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/gen":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return iter([b"ab", b"cd"])
        if path == "/204":
            start_response("204 No Content", [("Content-Length", "0")])
            return []
        if path == "/304":
            start_response("304 Not Modified", [("ETag", '"x"')])
            return []
        if path == "/early":
            try:
                raise KeyError("early")
            except KeyError:
                start_response("200 OK", [])
                start_response("418 Teapot Here", [("Content-Length", "3")], sys.exc_info())
            return [b"tea"]
        if path == "/conn":  # hop-by-hop headers from the app: the server frames
            start_response("200 OK", [("Connection", "close"), ("Transfer-Encoding", "chunked"),
                                      ("Content-Length", "2")])
            return [b"ok"]
        start_response("200 OK", [("Content-Length", "5"), ("X-Latin", "caf\xe9")])
        return [b"he", b"llo"]

    s = serve_app(app, workers=workers)
    with socket.create_connection(("127.0.0.1", s.port), timeout=WAIT) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /gen HTTP/1.1\r\nHost: x\r\n\r\nGET /204 HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /304 HTTP/1.1\r\nHost: x\r\n\r\nGET /early HTTP/1.1\r\nHost: x\r\n\r\n")
        head, body, rest = _read_response(sock)
        assert head.startswith(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Latin: caf\xe9\r\n")
        assert body == b"hello"
        while b"\r\n\r\n" not in rest:
            rest += sock.recv(65536)
        head, rest = rest.split(b"\r\n\r\n", 1)
        assert b"Content-Length: 5\r\n" in head  # HEAD: the GET's length, no body
        head, body, rest = _read_response(sock, rest)  # so the next bytes are the next response
        assert b"Transfer-Encoding: chunked\r\n" in head and body == b"abcd"
        for code in (b"204", b"304"):
            while b"\r\n\r\n" not in rest:
                rest += sock.recv(65536)
            head, rest = rest.split(b"\r\n\r\n", 1)
            assert head.startswith(b"HTTP/1.1 " + code) and b"Content-Length" not in head
        head, body, rest = _read_response(sock, rest)
        assert head.startswith(b"HTTP/1.1 418 Teapot Here\r\n") and body == b"tea"
        sock.sendall(b"GET /conn HTTP/1.1\r\nHost: x\r\n\r\n")
        head, body, rest = _read_response(sock, rest)
        assert head.count(b"Connection") == 1 and b"Connection: close\r\n" in head
        assert b"Transfer-Encoding" not in head and body == b"ok"
        assert sock.recv(1) == b""  # the app asked to close
    with socket.create_connection(("127.0.0.1", s.port), timeout=WAIT) as sock:
        sock.sendall(b"GET /gen HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        head, body, rest = _read_response(sock)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Transfer-Encoding" not in head
        assert b"Connection: close\r\n" in head and body == b"abcd"  # close-delimited
    with socket.create_connection(("127.0.0.1", s.port), timeout=WAIT) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        head, body, rest = _read_response(sock)
        assert b"Connection: keep-alive\r\n" in head and body == b"hello"
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, body, rest = _read_response(sock, rest)
        assert b"Connection: close\r\n" in head and body == b"hello"
        assert sock.recv(1) == b""
