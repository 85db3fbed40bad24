"""Apps that tests/test_cli.py serves through the server command.

Every answer is JSON naming the process that served it. The test drives
GET /slow with files in $CLI_TEST_DIR: the app creates ``started-<pid>``
when the request arrives and answers once ``release`` exists, so a test can
stop the server while a request is in flight without racing a timer.
"""

import asyncio
import json
import os
import time


def _test_file(name):
    return os.path.join(os.environ["CLI_TEST_DIR"], name)


def _touch(name):
    with open(_test_file(name), "w"):
        pass


def _answer(path, root_path, body_size):
    return json.dumps({"pid": os.getpid(), "path": path, "root_path": root_path,
                       "body_size": body_size}).encode()


async def app(scope, receive, send):
    """ASGI: lifespan supported (shutdown leaves ``shutdown-<pid>``)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                _touch(f"shutdown-{os.getpid()}")
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    body_size = 0
    while True:
        message = await receive()
        body_size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    if scope["path"] == "/slow":
        _touch(f"started-{os.getpid()}")
        while not os.path.exists(_test_file("release")):
            await asyncio.sleep(0.01)
    body = _answer(scope["path"], scope.get("root_path", ""), body_size)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


def wsgi(environ, start_response):
    """WSGI twin of ``app``."""
    body_size = len(environ["wsgi.input"].read())
    if environ["PATH_INFO"] == "/slow":
        _touch(f"started-{os.getpid()}")
        while not os.path.exists(_test_file("release")):
            time.sleep(0.01)
    body = _answer(environ["PATH_INFO"], environ.get("SCRIPT_NAME", ""), body_size)
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def make_app():
    """An app factory (--factory)."""
    return app


async def failing_startup(scope, receive, send):
    """ASGI app whose lifespan startup fails."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})


not_callable = 42
