"""A tiny ASGI app for the server command: every answer names the process
that served it, so `--workers N` shows its N processes.

    python -m pymongoose.asgi examples.app:app --workers 2
    curl http://127.0.0.1:8000/
"""

import json
import os


async def app(scope, receive, send):
    if scope["type"] == "lifespan":  # nothing to set up: acknowledge both phases
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    if scope["type"] != "http":
        return
    body = json.dumps({"hello": "world", "path": scope["path"], "pid": os.getpid()}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})
