"""A raw ASGI 3.0 app: every HTTP request gets a 27-byte JSON body (bench/servers.py)."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict

BODY = b'{"message":"Hello, World!"}'
assert len(BODY) == 27
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"27")]
START = {"type": "http.response.start", "status": 200, "headers": HEADERS}
RESPONSE = {"type": "http.response.body", "body": BODY}

Message = Dict[str, Any]


async def app(scope: Message, receive: Callable[[], Awaitable[Message]],
              send: Callable[[Message], Awaitable[None]]) -> None:
    """Answer HTTP with BODY; accept lifespan so every server starts it the same way."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send(START)
    await send(RESPONSE)
