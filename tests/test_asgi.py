"""pymongoose.asgi: an ASGI 3.0 server answering real clients (docs/api.md 19.11)."""

import asyncio
import contextlib
import threading
import time

import pytest

from pymongoose.asgi import ASGIServer

from conftest import WAIT

requests = pytest.importorskip("requests")
websocket = pytest.importorskip("websocket")
pytest.importorskip("starlette")

from starlette.applications import Starlette  # noqa: E402
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse  # noqa: E402
from starlette.routing import Route, WebSocketRoute  # noqa: E402


class LoopThread:
    """An asyncio loop in a background thread that runs an ASGIServer."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout=WAIT):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()


@pytest.fixture
def asgi_server():
    made = []

    def make(app, url="http://127.0.0.1:0"):
        lt = LoopThread()
        srv = ASGIServer(app)
        conn = lt.run(srv.start(url))
        made.append((lt, srv))
        return srv, f"http://127.0.0.1:{conn.local_addr[1]}", lt

    yield make
    for lt, srv in made:
        lt.run(srv.stop())
        lt.close()


def make_starlette(events, gate=None):
    async def home(request):
        return PlainTextResponse("hello from starlette")

    async def echo(request):
        body = await request.body()
        return JSONResponse({"len": len(body), "method": request.method,
                             "path": request.url.path, "q": request.query_params.get("q"),
                             "hdr": request.headers.get("x-test"),
                             "state": getattr(request.state, "marker", None)})

    async def stream(request):
        async def gen():
            for i in range(5):
                yield f"part{i};".encode()
                if i == 1 and gate is not None:
                    # the client must have seen parts 0 and 1 before the rest is made
                    await asyncio.get_running_loop().run_in_executor(None, gate.wait, WAIT)

        return StreamingResponse(gen(), media_type="text/plain")

    async def big(request):
        async def gen():
            for i in range(40):
                yield bytes([i]) * 65536

        return StreamingResponse(gen(), media_type="application/octet-stream")

    async def boom(request):
        raise RuntimeError("asgi boom")

    async def ws_echo(ws):
        await ws.accept()
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                events.append(("ws-disconnect", msg.get("code")))
                return
            if msg.get("text") is not None:
                if msg["text"] == "bye":
                    await ws.close(code=4001, reason="later")
                    return
                await ws.send_text("echo:" + msg["text"])
            else:
                await ws.send_bytes(b"echo:" + msg["bytes"])

    @contextlib.asynccontextmanager
    async def lifespan(app):
        events.append("startup")
        yield {"marker": "from-lifespan"}
        events.append("shutdown")

    return Starlette(routes=[
        Route("/", home),
        Route("/echo", echo, methods=["GET", "POST"]),
        Route("/stream", stream),
        Route("/big", big),
        Route("/boom", boom),
        WebSocketRoute("/ws", ws_echo),
    ], lifespan=lifespan)


def test_starlette_http_and_lifespan(asgi_server):
    events = []
    srv, base, lt = asgi_server(make_starlette(events))
    assert events == ["startup"]
    with requests.Session() as s:
        r = s.get(base + "/", timeout=WAIT)
        assert r.status_code == 200
        assert r.text == "hello from starlette"
        assert r.headers["content-type"].startswith("text/plain")
        r = s.post(base + "/echo?q=a%20b", data=b"x" * 100000, headers={"X-Test": "t"},
                   timeout=WAIT)
        assert r.json() == {"len": 100000, "method": "POST", "path": "/echo", "q": "a b",
                            "hdr": "t", "state": "from-lifespan"}
        assert s.get(base + "/nope", timeout=WAIT).status_code == 404
    lt.run(srv.stop())
    assert events == ["startup", "shutdown"]


def test_streaming_response_arrives_incrementally(asgi_server):
    gate = threading.Event()
    srv, base, _ = asgi_server(make_starlette([], gate))
    with requests.get(base + "/stream", stream=True, timeout=WAIT) as r:
        assert r.headers["transfer-encoding"] == "chunked"
        got = b""
        it = r.iter_content(None)
        while b"part1;" not in got:
            got += next(it)
        assert not gate.is_set()
        gate.set()
        got += b"".join(it)
    assert got == b"part0;part1;part2;part3;part4;"


def test_big_streaming_response_intact(asgi_server):
    srv, base, _ = asgi_server(make_starlette([]))
    r = requests.get(base + "/big", timeout=WAIT)
    assert r.status_code == 200
    assert r.content == b"".join(bytes([i]) * 65536 for i in range(40))


def test_app_exception_gives_500(asgi_server, capfd):
    srv, base, _ = asgi_server(make_starlette([]))
    r = requests.get(base + "/boom", timeout=WAIT)
    assert r.status_code == 500
    assert requests.get(base + "/", timeout=WAIT).text == "hello from starlette"
    assert "asgi boom" in capfd.readouterr().err


def test_websocket_echo(asgi_server):
    events = []
    srv, base, _ = asgi_server(make_starlette(events))
    url = base.replace("http://", "ws://") + "/ws"
    ws = websocket.create_connection(url, timeout=WAIT)
    ws.send("hi")
    assert ws.recv() == "echo:hi"
    ws.send_binary(b"\x00\x01")
    assert ws.recv() == b"echo:\x00\x01"
    ws.close()
    deadline = time.monotonic() + WAIT
    while ("ws-disconnect", 1000) not in events:
        assert time.monotonic() < deadline, events
        time.sleep(0.01)


def test_websocket_server_close_carries_code(asgi_server):
    srv, base, _ = asgi_server(make_starlette([]))
    ws = websocket.create_connection(base.replace("http://", "ws://") + "/ws", timeout=WAIT)
    ws.send("bye")
    op, frame = ws.recv_data_frame(True)
    assert op == websocket.ABNF.OPCODE_CLOSE
    assert frame.data[:2] == (4001).to_bytes(2, "big")
    assert frame.data[2:] == b"later"
    ws.close()


def test_raw_asgi_app_scope_and_fastapi_style(asgi_server):
    scopes = []

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":  # no lifespan support: raise
            raise RuntimeError("no lifespan here")
        scopes.append(scope)
        msg = await receive()
        assert msg == {"type": "http.request", "body": b"abc", "more_body": False}
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-type", b"text/plain"), (b"x-a", b"1"), (b"x-a", b"2")]})
        await send({"type": "http.response.body", "body": b"created"})

    srv, base, _ = asgi_server(app)
    r = requests.put(base + "/p%20q?x=1", data=b"abc", headers={"X-Hdr": "v"}, timeout=WAIT)
    assert r.status_code == 201
    assert r.text == "created"
    assert r.raw.headers.getlist("x-a") == ["1", "2"]
    scope = scopes[0]
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "PUT"
    assert scope["path"] == "/p q"
    assert scope["raw_path"] == b"/p%20q"
    assert scope["query_string"] == b"x=1"
    assert scope["root_path"] == ""
    assert scope["scheme"] == "http"
    assert scope["server"][1] == int(base.rsplit(":", 1)[1])
    assert scope["client"][0] == "127.0.0.1"
    assert (b"x-hdr", b"v") in scope["headers"]


def test_lifespan_startup_failed_raises():
    async def app(scope, receive, send):
        assert scope["type"] == "lifespan"
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "nope"})

    async def main():
        srv = ASGIServer(app)
        with pytest.raises(RuntimeError, match="nope"):
            await srv.start("http://127.0.0.1:0")
        with pytest.raises(RuntimeError, match="ASGIServer is not started"):
            srv.manager

    asyncio.run(main())


def test_fastapi_app(asgi_server):
    fastapi = pytest.importorskip("fastapi")
    app = fastapi.FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int, q: str = ""):
        return {"item_id": item_id, "q": q}

    srv, base, _ = asgi_server(app)
    r = requests.get(base + "/items/7?q=z", timeout=WAIT)
    assert r.status_code == 200
    assert r.json() == {"item_id": 7, "q": "z"}
    assert requests.get(base + "/items/x", timeout=WAIT).status_code == 422
    # a path that is not UTF-8 once percent-decoded: a validation error, not a 500
    assert requests.get(base + "/items/caf%E9", timeout=WAIT).status_code == 422


SERVE_SCRIPT = r"""
from pymongoose.asgi import serve

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                print("lifespan shutdown", flush=True)
                return
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"served by serve()"})

serve(app, "http://127.0.0.1:0")
print("stopped", flush=True)
"""


def test_serve_runs_until_sigint():
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
        r = requests.get(f"http://127.0.0.1:{m.group(1)}/", timeout=WAIT)
        assert r.text == "served by serve()"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, err
        assert out.splitlines() == ["lifespan shutdown", "stopped"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_head_of_streaming_route(asgi_server):
    srv, base, _ = asgi_server(make_starlette([]))
    with requests.Session() as s:
        r = s.head(base + "/big", timeout=WAIT)
        assert r.status_code == 200
        assert r.content == b""
        assert s.get(base + "/", timeout=WAIT).text == "hello from starlette"


def test_client_disconnect_is_delivered(asgi_server):
    import socket
    import struct

    got = []
    entered = threading.Event()
    seen = threading.Event()

    async def app(scope, receive, send):
        if scope["type"] != "http":
            raise RuntimeError("http only")
        got.append(await receive())
        entered.set()
        got.append(await receive())  # blocks until the client goes away
        seen.set()

    srv, base, _ = asgi_server(app)
    port = int(base.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
    assert entered.wait(WAIT)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    assert seen.wait(WAIT)
    assert got == [{"type": "http.request", "body": b"hi", "more_body": False},
                   {"type": "http.disconnect"}]


# -- the loop-thread server: threads, back-pressure, framing, lifespan, TLS ------

def raw_exchange(port, data, read_until_close=False):
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(data)
        if read_until_close:
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out
                out += chunk
        return s.recv(65536)


def test_app_runs_on_the_loop_thread_without_a_poll_thread():
    seen = []

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        seen.append((threading.get_ident(), asyncio.get_running_loop()))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x"})

    lt = LoopThread()
    srv = ASGIServer(app)
    try:
        before = set(threading.enumerate())
        port = lt.run(srv.start("http://127.0.0.1:0")).local_addr[1]
        assert set(threading.enumerate()) == before  # no poll thread
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=WAIT).text == "x"
        assert seen == [(lt.thread.ident, lt.loop)]
    finally:
        lt.run(srv.stop())
        lt.close()


def test_send_waits_while_the_client_does_not_read(asgi_server):
    """Back-pressure: a streaming app is held in send() while the send
    buffer is above the high-water mark, and goes on when the client reads."""
    import socket

    sent = []
    chunk = b"z" * 65536

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(512):  # 32 MiB: more than the kernel's socket buffers hold
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            sent.append(i)
        await send({"type": "http.response.body", "body": b""})

    lt = LoopThread()
    srv = ASGIServer(app, limits={"send_high_water": 256 * 1024})
    try:
        conn = lt.run(srv.start("http://127.0.0.1:0"))
        port = conn.local_addr[1]
        s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        # the app stops well before the end while nobody reads
        deadline = time.monotonic() + WAIT
        last = -1
        while time.monotonic() < deadline:
            time.sleep(0.2)
            if len(sent) == last:
                break
            last = len(sent)
        assert 0 < len(sent) < 512, len(sent)
        assert lt.run(_max_send_len(srv)) <= 256 * 1024 + len(chunk) + 16
        got = 0
        data = b""
        while not data.endswith(b"0\r\n\r\n"):
            data = s.recv(1 << 20)
            assert data
            got += len(data)
        assert len(sent) == 512 and got > 512 * len(chunk)
        s.close()
    finally:
        lt.run(srv.stop())
        lt.close()


async def _max_send_len(srv):
    return max(c.send_len for c in srv.manager.connections)


def test_send_after_disconnect_raises_oserror(asgi_server):
    import socket

    outcome = []
    started = threading.Event()

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        assert (await receive())["type"] == "http.request"
        started.set()
        msg = await receive()
        outcome.append(msg["type"])
        try:
            await send({"type": "http.response.body", "body": b"b", "more_body": True})
        except OSError as exc:
            outcome.append(type(exc).__name__)

    srv, base, _ = asgi_server(app)
    port = int(base.rsplit(":", 1)[1])
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert started.wait(WAIT)
    s.close()
    deadline = time.monotonic() + WAIT
    while len(outcome) < 2:
        assert time.monotonic() < deadline, outcome
        time.sleep(0.01)
    assert outcome == ["http.disconnect", "ClientDisconnected"]


def test_body_as_bytearray_and_memoryview(asgi_server):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"6")]})
        await send({"type": "http.response.body", "body": bytearray(b"abc"), "more_body": True})
        await send({"type": "http.response.body", "body": memoryview(b"def")})

    srv, base, _ = asgi_server(app)
    assert requests.get(base + "/", timeout=WAIT).content == b"abcdef"


def test_framing_rules(asgi_server):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        status = int(scope["path"][1:])
        await send({"type": "http.response.start", "status": status, "headers": [(b"x-s", b"1")]})
        await send({"type": "http.response.body", "body": b""})

    srv, base, _ = asgi_server(app)
    port = int(base.rsplit(":", 1)[1])
    for status in (204, 304):
        head = raw_exchange(port, b"GET /%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % status,
                            read_until_close=True)
        assert head.startswith(b"HTTP/1.1 %d " % status)
        assert b"content-length" not in head.lower() and b"transfer-encoding" not in head.lower()
    body = raw_exchange(port, b"GET /200 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                        read_until_close=True)
    assert b"\r\ncontent-length: 0\r\n" in body and b"\r\nconnection: close\r\n" in body


def test_bad_response_headers_give_500(asgi_server, capfd):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        value = b"a\r\nSet-Cookie: evil" if scope["path"] == "/split" else b"ok"
        length = b"5" if scope["path"] == "/short" else b"2"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"x-v", value), (b"content-length", length)]})
        await send({"type": "http.response.body", "body": b"ok"})

    srv, base, _ = asgi_server(app)
    with requests.Session() as s:
        r = s.get(base + "/split", timeout=WAIT)
        assert r.status_code == 500 and "set-cookie" not in r.headers
        assert s.get(base + "/fine", timeout=WAIT).text == "ok"
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(base + "/short", timeout=WAIT)  # cut: the client must see it end
    err = capfd.readouterr().err
    assert "invalid HTTP header value" in err and "shorter than Content-Length" in err


def test_root_path_and_lifespan_state(asgi_server):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["db"] = "connected"
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = f'{scope["root_path"]}|{scope["path"]}|{scope["state"]["db"]}'.encode()
        scope["state"]["db"] = "changed by a request"  # a copy: the next request does not see it
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    lt = LoopThread()
    srv = ASGIServer(app, root_path="/api")
    try:
        port = lt.run(srv.start("http://127.0.0.1:0")).local_addr[1]
        for _ in range(2):
            r = requests.get(f"http://127.0.0.1:{port}/items", timeout=WAIT)
            assert r.text == "/api|/api/items|connected"
    finally:
        lt.run(srv.stop())
        lt.close()


def test_lifespan_on_requires_support():
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            raise RuntimeError("no lifespan")

    async def main():
        with pytest.raises(RuntimeError, match="lifespan startup failed"):
            await ASGIServer(app, lifespan="on").start("http://127.0.0.1:0")
        srv = ASGIServer(app, lifespan="off")
        await srv.start("http://127.0.0.1:0")
        await srv.stop()

    asyncio.run(main())


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_server_on_both_loops(loop_name):
    import uvloop

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = (await receive())["body"]
        await asyncio.sleep(0)  # suspend once: the answer leaves outside the handler
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body[::-1]})

    async def main():
        srv = ASGIServer(app)
        port = (await srv.start("http://127.0.0.1:0")).local_addr[1]
        loop = asyncio.get_running_loop()
        with requests.Session() as s:
            for i in range(3):
                r = await loop.run_in_executor(
                    None, lambda: s.post(f"http://127.0.0.1:{port}/", data=b"abc%d" % i, timeout=WAIT))
                assert r.content == b"%dcba" % i
        await srv.stop()

    new_loop = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}[loop_name]()
    try:
        new_loop.run_until_complete(asyncio.wait_for(main(), WAIT * 2))
    finally:
        new_loop.close()


GRACEFUL_SCRIPT = r"""
import asyncio, sys
from pymongoose.asgi import serve

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                print("lifespan shutdown", flush=True)
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/slow":
        print("slow started", flush=True)
        await asyncio.sleep(1.0)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"done " + scope["path"].encode()})

serve(app, "http://127.0.0.1:0", graceful_timeout=10)
print("stopped", flush=True)
"""


def test_serve_sigterm_finishes_in_flight_requests():
    import re
    import signal
    import socket
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", GRACEFUL_SCRIPT], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        m = re.search(r"http://127\.0\.0\.1:(\d+)", proc.stdout.readline())
        assert m
        port = int(m.group(1))
        idle = socket.create_connection(("127.0.0.1", port), timeout=WAIT)  # keep-alive, idle
        idle.sendall(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
        assert idle.recv(1000).endswith(b"done /fast")
        busy = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        busy.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        assert proc.stdout.readline() == "slow started\n"
        proc.send_signal(signal.SIGTERM)
        answer = b""
        while True:
            chunk = busy.recv(1000)
            if not chunk:
                break
            answer += chunk
        assert answer.endswith(b"done /slow") and b"connection: close" in answer.lower()
        assert idle.recv(1000) == b""  # the idle connection was closed
        with pytest.raises(ConnectionRefusedError):  # the listener is gone
            socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        out, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, err
        assert out.splitlines() == ["lifespan shutdown", "stopped"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_tls(tmp_path):
    import re
    import signal
    import subprocess
    import sys

    pytest.importorskip("cryptography")  # the certificate is made with it
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import datetime
    import ipaddress

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
    script = (
        "from pymongoose.asgi import serve\n"
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http': return\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': scope['scheme'].encode()})\n"
        f"serve(app, 'http://127.0.0.1:0', ssl_certfile={str(cert_file)!r}, ssl_keyfile={str(key_file)!r})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        m = re.search(r"https://127\.0\.0\.1:(\d+)", proc.stdout.readline())
        assert m, proc.stderr.read() if proc.poll() is not None else ""
        r = requests.get(f"https://127.0.0.1:{m.group(1)}/", verify=str(cert_file), timeout=WAIT)
        assert r.text == "https"
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=WAIT)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
