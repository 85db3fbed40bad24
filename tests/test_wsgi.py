"""pymongoose.wsgi: a WSGI server answering real clients (API.md 19.10)."""

import hashlib
import io
import socket
import struct
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
