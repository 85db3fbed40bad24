"""Large request bodies stream to ASGI and WSGI applications while they
arrive, bounded by max_body_size and by the engine's window (issue 16.12).

Real clients (requests, httpx, curl, raw sockets) upload several MiB; the
uploads that must be seen "while they arrive" hold their second half back
until the application has its first piece: buffering the whole body first
would never let them finish.
"""

import asyncio
import hashlib
import os
import socket
import subprocess
import threading
import time

import pytest

from pymongoose import _body_stream
from pymongoose.asgi import ASGIServer
from pymongoose.wsgi import WSGIServer

from conftest import WAIT

requests = pytest.importorskip("requests")
httpx = pytest.importorskip("httpx")

MiB = 1 << 20
WINDOW = _body_stream.WINDOW


def digest(data):
    return f"{len(data)} {hashlib.sha256(data).hexdigest()}"


class Gate:
    """The client's second half waits for the application's first piece."""

    def __init__(self):
        self.first_piece = threading.Event()
        self.opened = None  # did the gate open before the client went on?

    def wait(self):
        self.opened = self.first_piece.wait(WAIT)


class GatedFile:
    """A request body of known length (requests sends Content-Length)
    whose second half is only read once the gate opened."""

    def __init__(self, data, gate):
        self.data = data
        self.pos = 0
        self.gate = gate

    def __len__(self):
        return len(self.data) - self.pos

    def read(self, n=-1):
        half = len(self.data) // 2
        if self.pos >= half and self.gate.opened is None:
            self.gate.wait()
        end = len(self.data) if n < 0 else min(len(self.data), self.pos + n)
        if self.pos < half < end:
            end = half
        out = self.data[self.pos:end]
        self.pos = end
        return out


def gated_chunks(data, gate, size=64 * 1024):
    """A generator body (chunked) whose second half waits for the gate."""
    half = len(data) // 2
    for i in range(0, len(data), size):
        if i >= half and gate.opened is None:
            gate.wait()
        yield data[i:i + size]


def raw_exchange(port, data, shut=True):
    """Send data, half-close, read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        try:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server answered and closed before the end
        out = b""
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            out += b
        return out


def chunked(data, size=50000):
    out = b""
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    return out + b"0\r\n\r\n"


def chunked_over(limit):
    """Chunks of exactly ``limit`` bytes, then the size line of one more
    chunk: the server refuses at that line, having read all that was sent
    (no reset can overtake its answer)."""
    return chunked(os.urandom(limit))[:-len(b"0\r\n\r\n")] + b"10\r\n"


# -- ASGI -------------------------------------------------------------------

class LoopThread:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(WAIT)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()


@pytest.fixture
def asgi():
    made = []

    def make(app, tls=None, **limits):
        lt = LoopThread()
        certfile, keyfile = tls or (None, None)
        srv = ASGIServer(app, limits=limits or None, ssl_certfile=certfile, ssl_keyfile=keyfile)
        conn = lt.run(srv.start("http://127.0.0.1:0"))
        made.append((lt, srv))
        return srv, conn.local_addr[1]

    yield make
    for lt, srv in made:
        lt.run(srv.stop())
        lt.close()


class HashingASGI:
    """Receives the body piece by piece and answers "length sha256"."""

    def __init__(self, gate=None, pause=0.0):
        self.gate = gate
        self.pause = pause
        self.server = None
        self.pieces = 0
        self.held = []  # unconsumed bytes in the engine before each receive()
        self.last = None  # the last message received
        self.clients = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        self.clients.append(scope["client"])
        h = hashlib.sha256()
        n = 0
        while True:
            if self.server is not None:
                for c in self.server.manager.connections:
                    if not c.is_listening:
                        self.held.append(_body_stream.unconsumed(self.server.manager, c.id))
            msg = self.last = await receive()
            if msg["type"] != "http.request":
                return
            if msg["body"]:
                self.pieces += 1
                if self.gate is not None:
                    self.gate.first_piece.set()
            h.update(msg["body"])
            n += len(msg["body"])
            if not msg.get("more_body"):
                break
            if self.pause:
                await asyncio.sleep(self.pause)  # a slow application
        body = f"{n} {h.hexdigest()}".encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})


@pytest.mark.parametrize("client", ["requests-length", "requests-chunked", "httpx-chunked"])
def test_asgi_upload_reaches_app_while_sent(asgi, client):
    gate = Gate()
    app = HashingASGI(gate)
    _, port = asgi(app)
    url = f"http://127.0.0.1:{port}/up"
    data = os.urandom(4 * MiB + 123)
    if client == "requests-length":
        r = requests.post(url, data=GatedFile(data, gate), timeout=WAIT)
        assert r.request.headers["Content-Length"] == str(len(data))
    elif client == "requests-chunked":
        r = requests.post(url, data=gated_chunks(data, gate), timeout=WAIT)
        assert r.request.headers["Transfer-Encoding"] == "chunked"
    else:
        r = httpx.post(url, content=gated_chunks(data, gate), timeout=WAIT)
    assert r.status_code == 200
    assert r.text == digest(data)
    assert gate.opened is True  # the app had a piece before the client sent the second half
    assert app.pieces >= 2


def test_asgi_small_body_arrives_whole(asgi):
    app = HashingASGI()
    _, port = asgi(app)
    data = os.urandom(_body_stream.THRESHOLD - 1)
    r = requests.post(f"http://127.0.0.1:{port}/", data=data, timeout=WAIT)
    assert r.text == digest(data) and app.pieces == 1


def test_asgi_max_body_size_by_length_refused_before_the_app(asgi):
    app = HashingASGI()
    _, port = asgi(app, max_body_size=MiB)
    out = raw_exchange(port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (MiB + 1))
    assert out.startswith(b"HTTP/1.1 413 ")
    assert app.clients == []


def test_asgi_max_body_size_chunked_mid_stream(asgi):
    app = HashingASGI()
    _, port = asgi(app, max_body_size=MiB)
    out = raw_exchange(port, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       + chunked_over(MiB), shut=False)
    assert out.startswith(b"HTTP/1.1 413 ")
    assert b"Connection: close" in out
    deadline = time.monotonic() + WAIT
    while app.last != {"type": "http.disconnect"} and time.monotonic() < deadline:
        time.sleep(0.01)
    assert app.last == {"type": "http.disconnect"}  # the app saw the body could not end
    assert app.pieces >= 1


def test_asgi_slow_app_holds_at_most_the_window(asgi):
    app = HashingASGI(pause=0.005)
    srv, port = asgi(app)
    app.server = srv
    data = os.urandom(16 * MiB)
    r = requests.post(f"http://127.0.0.1:{port}/", data=data, timeout=WAIT * 3)
    assert r.text == digest(data)
    assert len(app.held) >= 3
    assert max(app.held) <= WINDOW  # not the 16 MiB the client could send


def self_signed(tmp_path):
    """A certificate for 127.0.0.1 and its key (PEM files)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def test_asgi_tls_upload_streams_within_the_window(asgi, tmp_path):
    tls = self_signed(tmp_path)
    gate = Gate()
    app = HashingASGI(gate, pause=0.002)
    srv, port = asgi(app, tls=tls)
    app.server = srv
    data = os.urandom(8 * MiB)
    r = requests.post(f"https://127.0.0.1:{port}/", data=gated_chunks(data, gate), verify=tls[0],
                      timeout=WAIT * 3)
    assert r.text == digest(data)
    assert gate.opened is True
    assert len(app.held) >= 3 and max(app.held) <= WINDOW


def test_asgi_expect_100_continue_with_curl(asgi, tmp_path):
    app = HashingASGI()
    _, port = asgi(app)
    data = os.urandom(3 * MiB)
    f = tmp_path / "upload.bin"
    f.write_bytes(data)
    p = subprocess.run(["curl", "-sv", "--max-time", str(int(WAIT)), "-H", "Expect: 100-continue",
                        "--data-binary", f"@{f}", f"http://127.0.0.1:{port}/"],
                       capture_output=True, timeout=WAIT * 2)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert b"< HTTP/1.1 100 Continue" in p.stderr
    assert p.stdout.decode() == digest(data)


def test_asgi_answer_without_reading_skips_100_continue(asgi, tmp_path):
    async def refuse(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 401, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"no"})

    _, port = asgi(refuse)
    f = tmp_path / "upload.bin"
    f.write_bytes(os.urandom(2 * MiB))
    p = subprocess.run(["curl", "-sv", "--max-time", str(int(WAIT)), "-H", "Expect: 100-continue",
                        "--data-binary", f"@{f}", f"http://127.0.0.1:{port}/"],
                       capture_output=True, timeout=WAIT * 2)
    assert p.stdout == b"no"
    assert b"< HTTP/1.1 401" in p.stderr
    assert b"100 Continue" not in p.stderr


def test_asgi_keep_alive_after_streamed_upload(asgi):
    app = HashingASGI()
    _, port = asgi(app)
    data = os.urandom(MiB)
    with requests.Session() as s:
        r1 = s.post(f"http://127.0.0.1:{port}/", data=iter([data[:1000], data[1000:]]), timeout=WAIT)
        r2 = s.post(f"http://127.0.0.1:{port}/", data=b"again", timeout=WAIT)
    assert r1.text == digest(data) and r2.text == digest(b"again")
    assert app.clients[0] == app.clients[1]  # one connection for both


def test_asgi_pipelined_request_after_streamed_body(asgi):
    app = HashingASGI()
    _, port = asgi(app)
    data = os.urandom(600 * 1024)
    out = raw_exchange(port, b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(data)
                       + data + b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                       b"Connection: close\r\n\r\nabc")
    first, second = out.split(b"HTTP/1.1 200 ")[1:]
    assert first.endswith(digest(data).encode())
    assert second.endswith(digest(b"abc").encode())


def test_asgi_client_gone_mid_body(asgi):
    app = HashingASGI()
    _, port = asgi(app)
    raw_exchange(port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (2 * MiB)
                 + os.urandom(MiB // 2))
    deadline = time.monotonic() + WAIT
    while app.last != {"type": "http.disconnect"} and time.monotonic() < deadline:
        time.sleep(0.01)
    assert app.last == {"type": "http.disconnect"}


# -- WSGI -------------------------------------------------------------------

class ServedWSGI:
    def __init__(self, app, **kwargs):
        self.server = WSGIServer(app, **kwargs)
        self.port = self.server.listen("http://127.0.0.1:0").local_addr[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.thread = threading.Thread(target=self.server.run, kwargs={"poll_ms": 20}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.close()
        self.thread.join(WAIT)


@pytest.fixture
def wsgi():
    made = []

    def make(app, **kwargs):
        s = ServedWSGI(app, **kwargs)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


class HashingWSGI:
    """Reads wsgi.input in blocks (or by lines) and answers "length sha256"."""

    def __init__(self, gate=None, block=65536, lines=False, pause=0.0):
        self.gate = gate
        self.block = block
        self.lines = lines
        self.pause = pause
        self.reads = 0
        self.line_count = 0
        self.held = []  # bytes wsgi.input held, before each read
        self.error = None
        self.done = threading.Event()

    def __call__(self, environ, start_response):
        inp = environ["wsgi.input"]
        h = hashlib.sha256()
        n = 0
        try:
            if self.lines:
                for line in inp:
                    h.update(line)
                    n += len(line)
                    self.line_count += 1
                    if self.gate is not None:
                        self.gate.first_piece.set()
            else:
                while True:
                    if hasattr(inp, "buffered"):
                        self.held.append(inp.buffered)
                    b = inp.read(self.block)
                    if not b:
                        break
                    self.reads += 1
                    if self.gate is not None:
                        self.gate.first_piece.set()
                    h.update(b)
                    n += len(b)
                    if self.pause:
                        time.sleep(self.pause)  # a slow application
        except OSError as e:
            self.error = e
            self.done.set()
            raise
        self.done.set()
        body = f"{n} {h.hexdigest()}".encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]


@pytest.mark.parametrize("client", ["requests-length", "requests-chunked", "httpx-chunked"])
def test_wsgi_upload_reaches_app_while_sent(wsgi, client):
    gate = Gate()
    app = HashingWSGI(gate)
    s = wsgi(app, workers=2)
    data = os.urandom(4 * MiB + 5)
    if client == "requests-length":
        r = requests.post(s.url, data=GatedFile(data, gate), timeout=WAIT)
    elif client == "requests-chunked":
        r = requests.post(s.url, data=gated_chunks(data, gate), timeout=WAIT)
    else:
        r = httpx.post(s.url, content=gated_chunks(data, gate), timeout=WAIT)
    assert r.status_code == 200
    assert r.text == digest(data)
    assert gate.opened is True
    assert app.reads > 2


def test_wsgi_input_lines_and_iteration(wsgi):
    gate = Gate()
    app = HashingWSGI(gate, lines=True)
    s = wsgi(app, workers=1)
    lines = [b"line %d %s\n" % (i, b"x" * (i % 300)) for i in range(20000)]
    data = b"".join(lines) + b"no newline at the end"
    r = requests.post(s.url, data=gated_chunks(data, gate, size=10000), timeout=WAIT)
    assert r.text == digest(data)
    assert app.line_count == len(lines) + 1
    assert gate.opened is True


def test_wsgi_read_sizes_and_readline_limits(wsgi):
    seen = {}

    def app(environ, start_response):
        inp = environ["wsgi.input"]
        seen["first"] = inp.read(3)
        seen["line"] = inp.readline(5)
        seen["rest_line"] = inp.readline()
        seen["lines"] = inp.readlines()
        seen["after"] = inp.read()
        start_response("204 No Content", [])
        return []

    s = wsgi(app, workers=1)
    body = b"abcdefghij\n" + b"k" * (300 * 1024) + b"\nlast"
    r = requests.post(s.url, data=body, timeout=WAIT)
    assert r.status_code == 204
    assert seen == {"first": b"abc", "line": b"defgh", "rest_line": b"ij\n",
                    "lines": [b"k" * (300 * 1024) + b"\n", b"last"], "after": b""}


def test_wsgi_max_body_size_chunked_mid_stream(wsgi):
    app = HashingWSGI()
    s = wsgi(app, workers=1, limits={"max_body_size": MiB})
    out = raw_exchange(s.port, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       + chunked_over(MiB), shut=False)
    assert out.startswith(b"HTTP/1.1 413 ")
    assert app.done.wait(WAIT)
    assert isinstance(app.error, OSError) and "max_body_size" in str(app.error)


def test_wsgi_max_body_size_by_length(wsgi):
    app = HashingWSGI()
    s = wsgi(app, workers=1, limits={"max_body_size": MiB})
    out = raw_exchange(s.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (MiB + 1))
    assert out.startswith(b"HTTP/1.1 413 ")
    assert not app.done.is_set()


def test_wsgi_client_gone_mid_body_unblocks_the_reader(wsgi):
    app = HashingWSGI()
    s = wsgi(app, workers=1)
    raw_exchange(s.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (2 * MiB)
                 + os.urandom(MiB // 2))
    assert app.done.wait(WAIT)
    assert isinstance(app.error, OSError)


def test_wsgi_slow_app_holds_at_most_the_window(wsgi):
    app = HashingWSGI(block=16384, pause=0.0005)
    s = wsgi(app, workers=1)
    data = os.urandom(12 * MiB)
    r = requests.post(s.url, data=data, timeout=WAIT * 3)
    assert r.text == digest(data)
    assert len(app.held) > 100
    assert max(app.held) <= WINDOW


def test_wsgi_expect_100_continue_with_curl(wsgi, tmp_path):
    s = wsgi(HashingWSGI(), workers=2)
    data = os.urandom(3 * MiB)
    f = tmp_path / "upload.bin"
    f.write_bytes(data)
    p = subprocess.run(["curl", "-sv", "--max-time", str(int(WAIT)), "-H", "Expect: 100-continue",
                        "--data-binary", f"@{f}", s.url], capture_output=True, timeout=WAIT * 2)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert b"< HTTP/1.1 100 Continue" in p.stderr
    assert p.stdout.decode() == digest(data)


def test_wsgi_keep_alive_after_streamed_upload(wsgi):
    ports = []

    def app(environ, start_response):
        body = environ["wsgi.input"].read()
        ports.append(environ["REMOTE_PORT"])
        start_response("200 OK", [("Content-Length", str(len(digest(body))))])
        return [digest(body).encode()]

    s = wsgi(app, workers=2)
    data = os.urandom(MiB)
    with requests.Session() as sess:
        r1 = sess.post(s.url, data=iter([data[:10], data[10:]]), timeout=WAIT)
        r2 = sess.post(s.url, data=b"again", timeout=WAIT)
    assert r1.text == digest(data) and r2.text == digest(b"again")
    assert ports[0] == ports[1]


def test_wsgi_workers_0_gets_the_whole_body(wsgi):
    seen = {}

    def app(environ, start_response):
        inp = environ["wsgi.input"]
        # the poll thread runs the app: the body is all there, nothing blocks
        seen["len"] = len(inp.getvalue())
        body = digest(inp.read()).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]

    s = wsgi(app, workers=0)
    data = os.urandom(2 * MiB)
    r = requests.post(s.url, data=iter([data]), timeout=WAIT)
    assert r.text == digest(data) and seen["len"] == len(data)
