"""A Starlette app with one JSON route (JSONResponse) answering a 27-byte body (bench/servers.py)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# JSONResponse renders compactly (separators "," and ":"), no trailing newline.
BODY = b'{"message":"Hello, World!"}'
assert len(BODY) == 27


async def hello(request: Request) -> JSONResponse:
    """The measured route."""
    return JSONResponse({"message": "Hello, World!"})


app = Starlette(routes=[Route("/", hello)])
