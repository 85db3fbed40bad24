"""pymongoose.wsgi against gunicorn (gthread): the same applications, the
same requests, the same answers where they matter.

Both servers run in subprocesses on free ports and serve the application
module below. Where gunicorn departs from the HTTP specifications the test
says so and checks the spec's answer for pymongoose (README, WSGI section).
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import WAIT, free_port

requests = pytest.importorskip("requests")
pytest.importorskip("gunicorn")

APP_MODULE = textwrap.dedent('''
import json
import os
import sys
import time

STATE = {}
ENV_KEYS = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_PROTOCOL",
            "CONTENT_TYPE", "CONTENT_LENGTH", "wsgi.url_scheme", "wsgi.input_terminated",
            "wsgi.version", "wsgi.run_once", "REMOTE_ADDR", "SERVER_NAME")


def env_echo(environ, start_response):
    body = environ["wsgi.input"].read()
    seen = {k: environ.get(k) for k in ENV_KEYS}
    seen.update({k: v for k, v in environ.items() if k.startswith("HTTP_")})
    seen["body"] = body.decode("latin-1")
    seen["has_errors"] = hasattr(environ["wsgi.errors"], "write")
    seen["has_file_wrapper"] = callable(environ.get("wsgi.file_wrapper"))
    out = json.dumps(seen, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
    return [out]


def custom(environ, start_response):
    start_response("299 Custom Thing", [("X-Latin", "caf\xe9"), ("X-Dup", "1"), ("X-Dup", "2"),
                                        ("Content-Length", "5")])
    return [b"hello"]


def no_length(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])

    def gen():
        yield b"ab"
        yield b"cd"
    return gen()


def big(environ, start_response):
    body = b"x" * (3 << 19)  # 1.5 MiB
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(body)))])
    return [body]


def no_content(environ, start_response):
    start_response("204 No Content", [("Content-Length", "0")])
    return [b""]


def not_modified(environ, start_response):
    start_response("304 Not Modified", [("ETag", '"v1"')])
    return []


def gated(environ, start_response):
    """Yields a block, waits until the test creates the file named by the
    query string, yields another."""
    gate = environ["QUERY_STRING"]
    start_response("200 OK", [("Content-Type", "text/plain")])

    def gen():
        yield b"first;"
        deadline = time.monotonic() + 30
        while not os.path.exists(gate):
            if time.monotonic() > deadline:  # the client never saw the first block
                yield b"gate never opened"
                return
            time.sleep(0.01)
        yield b"second"
    return gen()


def exc_late(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"partial;"
    try:
        raise ValueError("late failure")
    except ValueError:
        try:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
        except ValueError:
            STATE["reraised"] = True
            raise
        STATE["reraised"] = False
        yield b"error page"


def exc_early(environ, start_response):
    try:
        raise ValueError("early failure")
    except ValueError:
        start_response("503 Oops Early", [("Content-Type", "text/plain"), ("Content-Length", "4")],
                       sys.exc_info())
    return [b"oops"]


def non_latin1(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Euro", "\u20ac")])
    return [b"x" * int(environ["QUERY_STRING"] or 1)]


def state(environ, start_response):
    out = json.dumps(STATE).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
    return [out]


def first_read(environ, start_response):
    # answers from the first 64 KiB: the client sends the rest only after
    # this answer, so the server must hand the body over as it arrives
    got = environ["wsgi.input"].read(65536)
    out = b"got=%d" % len(got)
    start_response("200 OK", [("Content-Length", str(len(out)))])
    return [out]


ROUTES = {"/first-read": first_read, "/env": env_echo, "/custom": custom, "/nolength": no_length, "/big": big,
          "/204": no_content, "/304": not_modified, "/gated": gated, "/exc-late": exc_late,
          "/exc-early": exc_early, "/nonlatin1": non_latin1, "/state": state}


def app(environ, start_response):
    route = ROUTES.get(environ["PATH_INFO"])
    if route is None:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [b"not found"]
    return route(environ, start_response)
''')


class Server:
    def __init__(self, name, argv, port, cwd):
        self.name = name
        self.port = port
        env = dict(os.environ, PYTHONPATH=str(cwd) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + WAIT * 2
        while True:  # ready when it accepts a connection
            assert self.proc.poll() is None, f"{name} died: {self.proc.stdout.read()}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=WAIT).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"{name} did not start"
                time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    d = tmp_path_factory.mktemp("wsgi_diff")
    (d / "wsgi_diff_app.py").write_text(APP_MODULE)
    gport, pport = free_port(), free_port()
    started = []
    try:
        started.append(Server("gunicorn", [sys.executable, "-m", "gunicorn", "-w", "1", "-k", "gthread",
                                           "--threads", "4", "-b", f"127.0.0.1:{gport}", "wsgi_diff_app:app"],
                              gport, d))
        script = ("import wsgi_diff_app\nfrom pymongoose.wsgi import serve\n"
                  f"serve(wsgi_diff_app.app, 'http://127.0.0.1:{pport}', workers=4)")
        started.append(Server("pymongoose", [sys.executable, "-c", script], pport, d))
        yield {s.name: s for s in started}, d
    finally:
        for s in started:
            s.stop()


# -- a client that reads exactly one response ----------------------------

class Reply:
    def __init__(self, status_line, headers, body, framing):
        self.status_line = status_line  # bytes, without CRLF
        self.headers = headers  # [(name, value)] as sent, bytes
        self.body = body
        self.framing = framing  # "length", "chunked", "close" or "none"

    @property
    def version(self):
        return self.status_line.split(b" ", 1)[0]

    @property
    def status(self):  # "299 Custom Thing": the status line after the version
        return self.status_line.split(b" ", 1)[1]

    def get(self, name):
        values = [v for k, v in self.headers if k.lower() == name.lower().encode()]
        return values

    def app_headers(self):
        """The headers without the ones each server adds (Date, Server) and
        the hop-by-hop ones compared separately."""
        skip = {b"date", b"server", b"connection", b"transfer-encoding"}
        return sorted((k, v) for k, v in self.headers if k.lower() not in skip)


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._more()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        while len(self.buf) < n:
            self._more()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def request(self, raw, head=False):
        self.sock.sendall(raw)
        return self.response(head)

    def response(self, head=False):
        status_line = self._line()
        headers = []
        while True:
            line = self._line()
            if not line:
                break
            k, _, v = line.partition(b":")
            headers.append((k, v.strip()))
        names = {k.lower(): v for k, v in headers}
        code = int(status_line.split()[1])
        if head or code in (204, 304) or code < 200:
            return Reply(status_line, headers, b"", "none")
        if b"chunked" in names.get(b"transfer-encoding", b""):
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    self._line()
                    return Reply(status_line, headers, body, "chunked")
                body += self._take(size)
                self._take(2)
        if b"content-length" in names:
            return Reply(status_line, headers, self._take(int(names[b"content-length"])), "length")
        return Reply(status_line, headers, self.read_to_eof(), "close")

    def read_to_eof(self):
        data, self.buf = self.buf, b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return data
            data += chunk

    def closed_by_peer(self):
        """Waits for the server's close (EOF); False if it sends more."""
        try:
            return self.sock.recv(1) == b"" and not self.buf
        except ConnectionResetError:
            return True


def exchange(port, raw, head=False):
    c = Conn(port)
    try:
        return c.request(raw, head)
    finally:
        c.close()


def both(servers, raw, head=False):
    return {name: exchange(s.port, raw, head) for name, s in servers[0].items()}


def get(path, *extra, version=b"HTTP/1.1", method=b"GET"):
    lines = [method + b" " + path + b" " + version, b"Host: example.test"] + list(extra)
    return b"\r\n".join(lines) + b"\r\n\r\n"


# -- the comparisons -----------------------------------------------------

def test_environ_matches(servers):
    body = b"name=caf\xe9"
    raw = (b"POST /env?q=a%20b&x=1 HTTP/1.1\r\nHost: example.test\r\nX-Custom: v1\r\n"
           b"X-Multi: a\r\nX-Multi: b\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    got = {name: json.loads(r.body) for name, r in both(servers, raw).items()}
    g, p = got["gunicorn"], got["pymongoose"]
    # repeated fields: gunicorn joins with ",", pymongoose with ", " (RFC 9110 §5.3 allows both)
    assert [v.strip() for v in g.pop("HTTP_X_MULTI").split(",")] == ["a", "b"]
    assert p.pop("HTTP_X_MULTI") == "a, b"
    assert g == p
    assert p["PATH_INFO"] == "/env" and p["QUERY_STRING"] == "q=a%20b&x=1"
    assert p["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert p["CONTENT_LENGTH"] == str(len(body)) and p["body"] == "name=caf\xe9"
    assert "HTTP_CONTENT_TYPE" not in p and "HTTP_CONTENT_LENGTH" not in p


def test_percent_decoded_path_is_latin1(servers):
    for r in both(servers, get(b"/%65nv")).values():  # "/env"
        assert json.loads(r.body)["PATH_INFO"] == "/env"
    for name, r in both(servers, get(b"/caf%C3%A9")).items():
        assert r.status == b"404 Not Found", name  # routed on the decoded latin-1 string


def test_underscore_headers_dropped(servers):
    raw = get(b"/env", b"X-Forwarded-For: 10.0.0.1", b"X_Forwarded_For: evil")
    for name, r in both(servers, raw).items():
        env = json.loads(r.body)
        assert env["HTTP_X_FORWARDED_FOR"] == "10.0.0.1", name
        assert "evil" not in json.dumps(env), name


def test_every_header_reaches_environ(servers):
    """More headers than Mongoose's API stores (30): gunicorn passes them all."""
    raw = get(b"/env", *(b"X-H%d: v%d" % (i, i) for i in range(60)))
    envs = {name: json.loads(r.body) for name, r in both(servers, raw).items()}
    for name, env in envs.items():
        assert {k: v for k, v in env.items() if k.startswith("HTTP_X_H")} == \
            {f"HTTP_X_H{i}": f"v{i}" for i in range(60)}, name


def test_absolute_form_target(servers):
    raw = get(b"http://example.test/env?q=1")
    for name, r in both(servers, raw).items():
        env = json.loads(r.body)
        assert (env["PATH_INFO"], env["QUERY_STRING"]) == ("/env", "q=1"), name


def test_status_line_and_headers_byte_exact(servers):
    replies = both(servers, get(b"/custom"))
    for name, r in replies.items():
        assert r.status_line == b"HTTP/1.1 299 Custom Thing", name
        assert r.get("X-Latin") == [b"caf\xe9"], name  # latin-1 on the wire, one byte
        assert r.get("X-Dup") == [b"1", b"2"], name
        assert r.get("Content-Type") == [], name  # none invented
        assert r.body == b"hello" and r.framing == "length", name
    assert replies["gunicorn"].app_headers() == replies["pymongoose"].app_headers()


def test_large_body_keeps_content_length(servers):
    for name, r in both(servers, get(b"/big")).items():
        assert r.framing == "length" and r.get("Content-Length") == [str(3 << 19).encode()], name
        assert r.body == b"x" * (3 << 19), name


def test_head_keeps_content_length_without_body(servers):
    for name, s in servers[0].items():
        c = Conn(s.port)
        try:
            r = c.request(get(b"/custom", method=b"HEAD"), head=True)
            assert r.get("Content-Length") == [b"5"], name
            # no body followed: the next response on the connection parses cleanly
            r2 = c.request(get(b"/custom"))
            assert r2.body == b"hello", name
        finally:
            c.close()


def test_no_content_length_on_204_and_304(servers):
    for path in (b"/204", b"/304"):
        for name, s in servers[0].items():
            c = Conn(s.port)
            try:
                r = c.request(get(path))
                assert r.get("Content-Length") == [] and r.get("Transfer-Encoding") == [], (name, path)
                assert c.request(get(b"/custom")).body == b"hello", name  # nothing stray came after
            finally:
                c.close()


def test_unknown_length_is_chunked_on_http11(servers):
    for name, r in both(servers, get(b"/nolength")).items():
        assert r.framing == "chunked" and r.body == b"abcd", name


def test_http10_gets_close_delimited_body(servers):
    for name, s in servers[0].items():
        c = Conn(s.port)
        try:
            r = c.request(get(b"/nolength", version=b"HTTP/1.0"))
            assert r.framing == "close" and r.body == b"abcd", name
            assert r.get("Transfer-Encoding") == [], name
        finally:
            c.close()


def test_http10_keep_alive_only_when_asked(servers):
    for name, s in servers[0].items():
        c = Conn(s.port)
        try:
            r = c.request(get(b"/custom", b"Connection: keep-alive", version=b"HTTP/1.0"))
            assert r.get("Connection") == [b"keep-alive"], name
            r = c.request(get(b"/custom", version=b"HTTP/1.0"))  # same connection: still open
            assert r.body == b"hello", name
            assert r.get("Connection") == [b"close"], name
            assert c.closed_by_peer(), name
        finally:
            c.close()
    # RFC 9110 §6.2: a server sends its own version; gunicorn echoes HTTP/1.0
    r = exchange(servers[0]["pymongoose"].port, get(b"/custom", version=b"HTTP/1.0"))
    assert r.version == b"HTTP/1.1"


def test_connection_close_request(servers):
    for name, s in servers[0].items():
        c = Conn(s.port)
        try:
            r = c.request(get(b"/custom", b"Connection: close"))
            assert r.get("Connection") == [b"close"] and r.body == b"hello", name
            assert c.closed_by_peer(), name
        finally:
            c.close()


def test_keep_alive_and_pipelining(servers):
    for name, s in servers[0].items():
        c = Conn(s.port)
        try:
            c.sock.sendall(get(b"/custom") + get(b"/nolength") + get(b"/204") + get(b"/custom"))
            got = [c.response() for _ in range(4)]
            assert [r.body for r in got] == [b"hello", b"abcd", b"", b"hello"], name
        finally:
            c.close()


def test_streaming_is_not_delayed(servers):
    """The first block arrives while the application still waits for the
    test to let it produce the second."""
    for name, s in servers[0].items():
        gate = servers[1] / f"gate-{name}"
        c = Conn(s.port)
        try:
            c.sock.sendall(get(b"/gated?" + str(gate).encode()))
            status = c._line()
            assert status.startswith(b"HTTP/1.1 200"), name
            while b"first;" not in c.buf:
                c._more()  # the gate is still shut: only an undelayed block arrives (else a timeout)
            assert not gate.exists()
            gate.write_bytes(b"")
            while b"0\r\n\r\n" not in c.buf:
                c._more()
            assert b"second" in c.buf, name
        finally:
            c.close()


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_large_body_reaches_the_app_while_it_arrives(servers, framing):
    half = bytes(range(256)) * 2048  # 512 KiB now; the other half never
    if framing == "length":
        raw = get(b"/first-read", b"Content-Length: %d" % (2 * len(half)), method=b"POST") + half
    else:
        raw = (get(b"/first-read", b"Transfer-Encoding: chunked", method=b"POST")
               + b"%x\r\n%s\r\n" % (len(half), half))
    for name, s in servers[0].items():
        c = Conn(s.port)
        try:
            c.sock.sendall(raw)
            resp = c.response()
            assert resp.body == b"got=65536", name
        finally:
            c.close()


def test_exc_info_after_headers_reraises(servers):
    for name, s in servers[0].items():
        c = Conn(s.port)
        try:
            c.sock.sendall(get(b"/exc-late"))
            status = c._line()
            assert status == b"HTTP/1.1 200 OK", name
            data = c.read_to_eof()  # the server closes: the response cannot be completed
            assert b"partial;" in data and b"error page" not in data, name
            assert not data.endswith(b"0\r\n\r\n"), name  # no last chunk: the client sees it broken
        finally:
            c.close()
        state = json.loads(exchange(s.port, get(b"/state")).body)
        assert state == {"reraised": True}, name


def test_exc_info_before_headers_replaces_them(servers):
    for name, r in both(servers, get(b"/exc-early")).items():
        assert r.status == b"503 Oops Early" and r.body == b"oops", name


@pytest.mark.parametrize("size", [1, 2 << 20])
def test_non_latin1_header_is_a_500(servers, size):
    for name, s in servers[0].items():
        r = exchange(s.port, get(b"/nonlatin1?" + str(size).encode()))
        assert r.status.startswith(b"500 "), name
        assert r.get("X-Euro") == [], name


def test_http_client_and_requests(servers):
    for name, s in servers[0].items():
        hc = http.client.HTTPConnection("127.0.0.1", s.port, timeout=WAIT)
        try:
            hc.request("GET", "/custom")
            resp = hc.getresponse()
            assert (resp.status, resp.reason, resp.read()) == (299, "Custom Thing", b"hello"), name
            assert resp.getheader("X-Latin") == "caf\xe9", name
            hc.request("GET", "/nolength")
            resp = hc.getresponse()
            assert resp.read() == b"abcd" and resp.chunked, name
        finally:
            hc.close()
        with requests.Session() as sess:
            r = sess.post(f"http://127.0.0.1:{s.port}/env", data=b"abc", timeout=WAIT)
            assert r.json()["body"] == "abc" and r.json()["CONTENT_LENGTH"] == "3", name
            r = sess.head(f"http://127.0.0.1:{s.port}/big", timeout=WAIT)
            assert r.headers["Content-Length"] == str(3 << 19) and r.content == b"", name
