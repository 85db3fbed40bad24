"""Raw ASGI apps served by both uvicorn and pymongoose.asgi in
test_asgi_vs_uvicorn.py. ``/events`` returns (and clears) what the apps
observed that a client cannot see: disconnects, WebSocket close codes."""

import json
import os

EVENTS = []


def _text(b):
    return b.decode("latin-1") if isinstance(b, (bytes, bytearray)) else b


def _jsonable(scope):
    out = {}
    for k, v in scope.items():
        if k in ("state", "extensions", "app", "asgi"):
            out[k] = {kk: vv for kk, vv in (v or {}).items() if isinstance(vv, (str, int, type(None)))}
        elif k == "headers":
            out[k] = [[_text(n), _text(x)] for n, x in v]
        elif isinstance(v, (bytes, bytearray)):
            out[k] = _text(v)
        elif isinstance(v, tuple):
            out[k] = list(v)
        else:
            out[k] = v
    return out


async def respond(send, status, body, headers=()):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"), *headers]})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive):
    chunks = []
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            raise RuntimeError("client went away")
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body", False):
            return b"".join(chunks)


async def lifespan(receive, send):
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            if os.environ.get("DIFF_LIFESPAN_FAIL"):
                await send({"type": "lifespan.startup.failed", "message": "diff app refuses to start"})
                return
            await send({"type": "lifespan.startup.complete"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return


async def http(scope, receive, send):
    path = scope["path"]
    if path.startswith("/scope"):
        await read_body(receive)
        await respond(send, 200, json.dumps(_jsonable(scope)).encode(),
                      [(b"content-type", b"application/json")])
    elif path == "/events":
        body = json.dumps(EVENTS).encode()
        EVENTS.clear()
        await respond(send, 200, body)
    elif path == "/echo":
        body = await read_body(receive)
        await respond(send, 200, b"%d:" % len(body) + body[:64])
    elif path == "/stream-out":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for i in range(5):
            await send({"type": "http.response.body", "body": b"part%d;" % i, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    elif path == "/cl":
        # the app's own Content-Length, body in two messages
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"10")]})
        await send({"type": "http.response.body", "body": b"01234", "more_body": True})
        await send({"type": "http.response.body", "body": b"56789"})
    elif path == "/hdr":
        await respond(send, 200, b"ok", [(b"x-name", b"caf\xe9"), (b"X-Mixed-Case", b"Value")])
    elif path == "/wait-disconnect":
        await read_body(receive)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"first;", "more_body": True})
        msg = await receive()  # the client goes away mid-response
        EVENTS.append(["http", msg["type"]])
    elif path == "/first-piece":
        # answers from the first body message: the client sends the rest
        # only after this answer, so it needs a server that streams bodies
        msg = await receive()
        await respond(send, 200, b"more=%d got=%d" % (msg.get("more_body", False), len(msg["body"]) > 0))
    elif path == "/no-read":
        await respond(send, 401, b"no")  # the body is never asked for
    elif path == "/after-complete":
        await read_body(receive)
        await respond(send, 200, b"done")
        msg = await receive()
        EVENTS.append(["after-complete", msg["type"]])
    else:
        await respond(send, 404, b"not found")


async def websocket(scope, receive, send):
    path = scope["path"]
    msg = await receive()
    assert msg["type"] == "websocket.connect"
    if path == "/ws-deny":
        await send({"type": "websocket.close", "code": 1000})
        return
    if path == "/ws-http-response":
        await send({"type": "websocket.http.response.start", "status": 418,
                    "headers": [(b"content-type", b"text/plain"), (b"x-why", b"teapot")]})
        await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"websocket here"})
        return
    if path == "/ws-scope":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(_jsonable(scope))})
        await send({"type": "websocket.close", "code": 1000})
        return
    offered = scope.get("subprotocols") or []
    await send({"type": "websocket.accept", "subprotocol": offered[-1] if offered else None,
                "headers": [(b"x-accepted", b"yes")]})
    while True:
        msg = await receive()
        if msg["type"] == "websocket.disconnect":
            EVENTS.append(["ws", path, msg["code"]])
            return
        if msg.get("text") == "close-me":
            await send({"type": "websocket.close", "code": 4001, "reason": "asked"})
            continue
        if msg.get("text") is not None:
            await send({"type": "websocket.send", "text": "echo:" + msg["text"]})
        else:
            await send({"type": "websocket.send", "bytes": b"echo:" + msg["bytes"]})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
    elif scope["type"] == "http":
        await http(scope, receive, send)
    else:
        await websocket(scope, receive, send)
