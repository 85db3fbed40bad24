"""A raw WSGI app: every request gets a 27-byte JSON body (bench/servers.py)."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Tuple

BODY = b'{"message":"Hello, World!"}'
assert len(BODY) == 27
HEADERS = [("Content-Type", "application/json"), ("Content-Length", "27")]


def app(environ: Dict[str, Any],
        start_response: Callable[[str, List[Tuple[str, str]]], Any]) -> Iterable[bytes]:
    """Answer BODY."""
    start_response("200 OK", HEADERS)
    return [BODY]
