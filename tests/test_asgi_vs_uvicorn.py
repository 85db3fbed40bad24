"""pymongoose.asgi side by side with uvicorn (uvloop + httptools): the same
apps (asgi_diff_apps.py), the same requests, compared where the two should
agree. Where uvicorn departs from the HTTP RFCs (chunked to HTTP/1.0
clients), the test says so and checks pymongoose against the RFC."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from conftest import WAIT, free_port

pytest.importorskip("uvicorn")
pytest.importorskip("httptools")
websockets_sync = pytest.importorskip("websockets.sync.client")
import websockets.exceptions  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERS = ("uvicorn", "pymongoose")


def server_cmd(kind, port):
    if kind == "uvicorn":
        return [sys.executable, "-m", "uvicorn", "asgi_diff_apps:app", "--port", str(port),
                "--host", "127.0.0.1", "--loop", "uvloop", "--http", "httptools",
                "--ws", "websockets", "--log-level", "warning", "--no-access-log"]
    return [sys.executable, "-c",
            "import asgi_diff_apps; from pymongoose.asgi import serve; "
            f"serve(asgi_diff_apps.app, 'http://127.0.0.1:{port}', log_level='warning')"]


def wait_listening(proc, port):
    deadline = time.monotonic() + WAIT * 2
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    raise AssertionError("server did not start listening")


@contextlib.contextmanager
def run_server(kind, env=None):
    port = free_port()
    proc = subprocess.Popen(server_cmd(kind, port), cwd=HERE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    try:
        listening = wait_listening(proc, port)
        yield proc, port, listening
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()
        proc.stderr.close()


@pytest.fixture(scope="module")
def ports():
    with contextlib.ExitStack() as stack:
        got = {}
        for kind in SERVERS:
            _, port, listening = stack.enter_context(run_server(kind))
            assert listening, kind
            got[kind] = port
        yield got


# -- a small HTTP/1.1 response reader over raw sockets ----------------------

class Response:
    def __init__(self, status, reason, headers, body, chunked):
        self.status, self.reason, self.headers, self.body, self.chunked = status, reason, headers, body, chunked

    def header(self, name):
        vals = [v for n, v in self.headers if n.lower() == name.lower()]
        return vals[0] if vals else None


class Reader:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def rest(self):
        while True:
            try:
                self._fill()
            except EOFError:
                out, self.buf = self.buf, b""
                return out

    def response(self, head_request=False):
        """One final response; 1xx responses before it are counted in self.informational."""
        self.informational = []
        while True:
            status_line = self.line()
            _, code, reason = (status_line.split(b" ", 2) + [b""])[:3]
            headers = []
            while True:
                line = self.line()
                if not line:
                    break
                name, value = line.split(b":", 1)
                headers.append((name.decode("latin-1"), value.strip()))
            if int(code) >= 200:
                break
            self.informational.append(int(code))
        resp = Response(int(code), reason, headers, b"", False)
        te = resp.header("transfer-encoding")
        cl = resp.header("content-length")
        if head_request or resp.status in (204, 304):
            return resp
        if te is not None and b"chunked" in te.lower():
            resp.chunked = True
            body = b""
            while True:
                size = int(self.line().split(b";")[0], 16)
                if size == 0:
                    while self.line():
                        pass
                    break
                body += self.exact(size)
                self.line()
            resp.body = body
        elif cl is not None:
            resp.body = self.exact(int(cl))
        else:
            resp.body = self.rest()
        return resp


def exchange(port, raw, head_request=False, count=1):
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(raw)
        r = Reader(s)
        out = [r.response(head_request) for _ in range(count)]
        return out if count > 1 else out[0]


def both(fn):
    return {kind: fn(port) for kind, port in _ports.items()}


@pytest.fixture(autouse=True)
def _bind_ports(ports):
    global _ports
    _ports = ports


_ports = {}


# -- scope -----------------------------------------------------------------

SCOPE_REQUEST = (b"GET /scope/caf%E9/x%20y?a=1&b=%20 HTTP/1.1\r\nHost: example.test\r\n"
                 b"X-Custom: Some Value\r\nAccept: */*\r\nX-Dup: 1\r\nX-Dup: 2\r\n\r\n")


def scope_of(port, raw=SCOPE_REQUEST):
    resp = exchange(port, raw)
    assert resp.status == 200, resp.body
    return json.loads(resp.body)


def test_scope_keys_and_values_agree():
    scopes = both(scope_of)
    ours, theirs = scopes["pymongoose"], scopes["uvicorn"]
    assert set(ours) == set(theirs) | ({"extensions"} & set(ours)), (set(ours) ^ set(theirs))
    for key in ("type", "http_version", "method", "path", "raw_path", "query_string",
                "root_path", "headers", "scheme"):
        assert ours[key] == theirs[key], key
    assert ours["asgi"]["version"] == theirs["asgi"]["version"] == "3.0"
    for key in ("client", "server"):
        assert [type(x).__name__ for x in ours[key]] == [type(x).__name__ for x in theirs[key]] == ["str", "int"]
        assert ours[key][0] == theirs[key][0] == "127.0.0.1"
    # a path that is not UTF-8 once decoded: no lone surrogates (FastAPI would answer 500)
    assert ours["path"] == "/scope/caf\ufffd/x y"
    assert ours["state"] == theirs["state"] == {}


def test_absolute_form_target():
    raw = b"GET http://127.0.0.1:9/scope/p%2Fq?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    scopes = both(lambda p: scope_of(p, raw))
    for kind, scope in scopes.items():
        assert scope["path"] == "/scope/p/q", kind
        assert scope["raw_path"] == "/scope/p%2Fq", kind
        assert scope["query_string"] == "x=1", kind


def test_http10_request_scope():
    raw = b"GET /scope HTTP/1.0\r\n\r\n"
    scopes = both(lambda p: scope_of(p, raw))
    assert scopes["pymongoose"]["http_version"] == scopes["uvicorn"]["http_version"] == "1.0"


def test_every_header_reaches_the_scope():
    """More headers than Mongoose's API stores (30): uvicorn passes them all."""
    extra = b"".join(b"X-H%d: v%d\r\n" % (i, i) for i in range(60))
    raw = b"GET /scope HTTP/1.1\r\nHost: example.test\r\n" + extra + b"\r\n"
    scopes = both(lambda p: scope_of(p, raw))
    ours, theirs = scopes["pymongoose"]["headers"], scopes["uvicorn"]["headers"]
    assert ours == theirs
    assert len(ours) == 61 and ours[-1] == ["x-h59", "v59"]


# -- responses ---------------------------------------------------------------

def test_header_bytes_go_out_as_given():
    resps = both(lambda p: exchange(p, b"GET /hdr HTTP/1.1\r\nHost: x\r\n\r\n"))
    for kind, r in resps.items():
        assert r.header("x-name") == b"caf\xe9", kind
        assert ("X-Mixed-Case", b"Value") in r.headers or ("x-mixed-case", b"Value") in r.headers, kind
        assert r.body == b"ok"


def test_app_content_length_kept_for_a_streamed_body():
    resps = both(lambda p: exchange(p, b"GET /cl HTTP/1.1\r\nHost: x\r\n\r\n"))
    for kind, r in resps.items():
        assert r.header("content-length") == b"10", kind
        assert r.header("transfer-encoding") is None, kind
        assert r.body == b"0123456789", kind


def test_head_keeps_content_length_and_sends_no_body():
    for kind, port in _ports.items():
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            # HEAD then GET on one connection: a body after the HEAD would corrupt the GET
            s.sendall(b"HEAD /cl HTTP/1.1\r\nHost: x\r\n\r\nGET /hdr HTTP/1.1\r\nHost: x\r\n\r\n")
            r = Reader(s)
            head = r.response(head_request=True)
            get = r.response()
            assert head.status == 200 and head.header("content-length") == b"10", kind
            assert get.status == 200 and get.body == b"ok", kind


def test_streamed_body_without_length_is_chunked_for_http11():
    resps = both(lambda p: exchange(p, b"GET /stream-out HTTP/1.1\r\nHost: x\r\n\r\n"))
    for kind, r in resps.items():
        assert r.chunked, kind
        assert r.body == b"part0;part1;part2;part3;part4;", kind


def test_http10_client_gets_no_chunked_coding():
    raw = b"GET /stream-out HTTP/1.0\r\n\r\n"
    resps = both(lambda p: exchange(p, raw))
    for kind, r in resps.items():
        assert r.body == b"part0;part1;part2;part3;part4;", kind
    # RFC 9112 §7.1: chunked must not be sent to an HTTP/1.0 client (uvicorn does)
    ours = resps["pymongoose"]
    assert not ours.chunked and ours.header("transfer-encoding") is None
    assert ours.header("connection") == b"close"


def test_http10_keep_alive_when_asked():
    port = _ports["pymongoose"]
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        r = Reader(s)
        for _ in range(2):
            s.sendall(b"GET /hdr HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            resp = r.response()
            assert resp.body == b"ok"
            assert resp.header("connection").lower() == b"keep-alive"


def test_connection_close_request_is_answered_and_closed():
    for kind, port in _ports.items():
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(b"GET /hdr HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            r = Reader(s)
            resp = r.response()
            assert resp.body == b"ok", kind
            assert resp.header("connection").lower() == b"close", kind
            assert r.rest() == b"", kind  # and the server closed the connection


def test_request_body_streams_in():
    body = bytes(range(256)) * 4096  # 1 MiB, sent chunked
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
                      for i in range(0, len(body), 65536))
    raw = (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
    resps = both(lambda p: exchange(p, raw))
    assert resps["pymongoose"].body == resps["uvicorn"].body == b"%d:" % len(body) + body[:64]


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_large_body_reaches_the_app_while_it_arrives(framing):
    half = bytes(range(256)) * 2048  # 512 KiB now; the other half only after the answer
    if framing == "length":
        raw = (b"POST /first-piece HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (2 * len(half))
               + half)
    else:
        raw = (b"POST /first-piece HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               + b"%x\r\n%s\r\n" % (len(half), half))
    for kind, port in _ports.items():
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(raw)
            resp = Reader(s).response()
            assert (resp.status, resp.body) == (200, b"more=1 got=1"), kind


def test_expect_100_continue_not_sent_when_the_app_does_not_read():
    head = b"POST /no-read HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\nExpect: 100-continue\r\n\r\n"
    for kind, port in _ports.items():
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(head)
            r = Reader(s)
            resp = r.response()
            assert (resp.status, resp.body, r.informational) == (401, b"no", []), kind


def test_expect_100_continue():
    raw = (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello")
    for kind, port in _ports.items():
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(raw)
            r = Reader(s)
            resp = r.response()
            assert resp.status == 200 and resp.body == b"5:hello", kind
            assert r.informational in ([], [100]), kind  # never more than one 100


def test_expect_100_continue_client_waits_for_it():
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    for kind, port in _ports.items():
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(head)
            r = Reader(s)
            assert r.line() == b"HTTP/1.1 100 Continue", kind  # before the body is sent
            assert r.line() == b"", kind
            s.sendall(b"hello")
            resp = r.response()
            assert resp.status == 200 and resp.body == b"5:hello", kind
            assert r.informational == [], kind  # one 100 only


def test_client_disconnect_mid_response_reaches_the_app():
    for kind, port in _ports.items():
        s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        s.sendall(b"GET /wait-disconnect HTTP/1.1\r\nHost: x\r\n\r\n")
        r = Reader(s)
        while b"first;" not in r.buf:
            r._fill()
        s.close()
        deadline = time.monotonic() + WAIT
        while True:
            events = json.loads(exchange(port, b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n").body)
            if events:
                break
            assert time.monotonic() < deadline, kind
            time.sleep(0.02)
        assert events == [["http", "http.disconnect"]], kind


def test_receive_after_the_response_is_complete_says_disconnect():
    for kind, port in _ports.items():
        resp = exchange(port, b"GET /after-complete HTTP/1.1\r\nHost: x\r\n\r\n")
        assert resp.body == b"done"
        deadline = time.monotonic() + WAIT
        while True:
            events = json.loads(exchange(port, b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n").body)
            if events:
                break
            assert time.monotonic() < deadline, kind
            time.sleep(0.02)
        assert events == [["after-complete", "http.disconnect"]], kind


# -- WebSocket -----------------------------------------------------------

def ws_url(port, path):
    return f"ws://127.0.0.1:{port}{path}"


def events_of(port, want):
    deadline = time.monotonic() + WAIT
    got = []
    while len(got) < want:
        got += json.loads(exchange(port, b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n").body)
        if len(got) < want:
            assert time.monotonic() < deadline, got
            time.sleep(0.02)
    return got


def test_websocket_subprotocol_headers_and_echo():
    for kind, port in _ports.items():
        with websockets_sync.connect(ws_url(port, "/ws"), subprotocols=["chat", "superchat"],
                                     open_timeout=WAIT) as ws:
            assert ws.subprotocol == "superchat", kind
            assert ws.response.headers["x-accepted"] == "yes", kind
            assert ws.response.headers.get_all("sec-websocket-protocol") == ["superchat"], kind
            ws.send("hi")
            assert ws.recv(WAIT) == "echo:hi"
            ws.send(b"\x00\x01")
            assert ws.recv(WAIT) == b"echo:\x00\x01"
        assert events_of(port, 1) == [["ws", "/ws", 1000]], kind


def test_websocket_scope_agrees():
    scopes = {}
    for kind, port in _ports.items():
        with websockets_sync.connect(ws_url(port, "/ws-scope?x=1"), subprotocols=["a", "b"],
                                     open_timeout=WAIT) as ws:
            scopes[kind] = json.loads(ws.recv(WAIT))
    ours, theirs = scopes["pymongoose"], scopes["uvicorn"]
    assert set(ours) == set(theirs), set(ours) ^ set(theirs)
    for key in ("type", "http_version", "path", "raw_path", "query_string", "root_path",
                "scheme", "subprotocols"):
        assert ours[key] == theirs[key], key
    assert sorted(n for n, _ in ours["headers"]) == sorted(n for n, _ in theirs["headers"])
    assert ours["subprotocols"] == ["a", "b"] and ours["scheme"] == "ws"


def ws_handshake(port, path):
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    r = Reader(s)
    assert r.line().startswith(b"HTTP/1.1 101")
    while r.line():
        pass
    return s


def test_websocket_close_codes_1005_and_1006():
    for kind, port in _ports.items():
        s = ws_handshake(port, "/ws-1005")
        s.sendall(bytes([0x88, 0x80, 1, 2, 3, 4]))  # masked close frame without a code
        s.settimeout(WAIT)
        try:
            while s.recv(100):
                pass
        except OSError:
            pass
        s.close()
        s = ws_handshake(port, "/ws-1006")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # TCP goes away without a close frame
        got = sorted(events_of(port, 2))
        assert got == [["ws", "/ws-1005", 1005], ["ws", "/ws-1006", 1006]], kind


def test_websocket_server_close_code_reaches_the_client():
    for kind, port in _ports.items():
        with websockets_sync.connect(ws_url(port, "/ws-srv"), open_timeout=WAIT) as ws:
            ws.send("close-me")
            with pytest.raises(websockets.exceptions.ConnectionClosed) as info:
                ws.recv(WAIT)
            assert info.value.rcvd.code == 4001 and info.value.rcvd.reason == "asked", kind
        events_of(port, 1)  # the app saw its disconnect; drop the event


def test_websocket_close_before_accept_is_403():
    for kind, port in _ports.items():
        with pytest.raises(websockets.exceptions.InvalidStatus) as info:
            websockets_sync.connect(ws_url(port, "/ws-deny"), open_timeout=WAIT)
        assert info.value.response.status_code == 403, kind


def test_websocket_http_response_extension():
    for kind, port in _ports.items():
        with pytest.raises(websockets.exceptions.InvalidStatus) as info:
            websockets_sync.connect(ws_url(port, "/ws-http-response"), open_timeout=WAIT)
        resp = info.value.response
        assert resp.status_code == 418, kind
        assert resp.headers["x-why"] == "teapot", kind
        assert resp.body == b"no websocket here", kind


# -- lifespan ------------------------------------------------------------

def test_lifespan_startup_failure_stops_the_server():
    for kind in SERVERS:
        with run_server(kind, env={"DIFF_LIFESPAN_FAIL": "1"}) as (proc, port, listening):
            assert not listening, kind
            proc.wait(WAIT)
            assert proc.returncode != 0, kind
            assert b"diff app refuses to start" in proc.stderr.read(), kind
