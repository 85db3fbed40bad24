"""pymongoose.asgi: an ASGI 3.0 server answering real clients (API.md 19.11)."""

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
