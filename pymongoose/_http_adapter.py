"""HTTP/1.x facts shared by the server adapters (pymongoose.asgi, pymongoose.wsgi).

The adapters frame responses themselves (``Connection._http_send``): this
module holds what both need to decide that framing the same way: reason
phrases, status lines, header checks, keep-alive decisions, the request
target's path (origin-form or absolute-form) and its decoding.
"""

from __future__ import annotations

import re
from typing import Dict, Optional, Tuple
from urllib.parse import unquote

__all__ = [
    "REASONS",
    "reason",
    "status_line",
    "body_allowed",
    "header_name_error",
    "header_value_error",
    "connection_tokens",
    "keep_alive",
    "origin_path",
    "decode_path",
    "chunk",
    "LAST_CHUNK",
    "CONTINUE_100",
]

REASONS: Dict[int, str] = {
    100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
    200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
    204: "No Content", 205: "Reset Content", 206: "Partial Content", 207: "Multi-Status",
    208: "Already Reported", 226: "IM Used",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
    304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict", 410: "Gone",
    411: "Length Required", 412: "Precondition Failed", 413: "Content Too Large",
    414: "URI Too Long", 415: "Unsupported Media Type", 416: "Range Not Satisfiable",
    417: "Expectation Failed", 418: "I'm a teapot", 421: "Misdirected Request",
    422: "Unprocessable Content", 423: "Locked", 424: "Failed Dependency", 425: "Too Early",
    426: "Upgrade Required", 428: "Precondition Required", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates", 507: "Insufficient Storage", 508: "Loop Detected",
    510: "Not Extended", 511: "Network Authentication Required",
}

CONTINUE_100 = b"HTTP/1.1 100 Continue\r\n\r\n"
LAST_CHUNK = b"0\r\n\r\n"

# Token characters of a field name (RFC 9110 §5.6.2); anything else is refused.
_BAD_NAME = re.compile(rb"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")
# Field values: visible characters, space, tab and obs-text; no CR, LF, NUL
# or other controls (RFC 9110 §5.5).
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")

_status_lines: Dict[int, bytes] = {}


def reason(code: int) -> str:
    """The standard reason phrase of ``code`` ("" for an unknown code)."""
    return REASONS.get(code, "")


def status_line(code: int) -> bytes:
    """``HTTP/1.1 <code> <reason>\\r\\n`` (cached). Servers answer with their
    own version, 1.1, also to HTTP/1.0 clients (RFC 9110 §6.2)."""
    line = _status_lines.get(code)
    if line is None:
        if not 100 <= code <= 999:
            raise ValueError(f"HTTP status code out of range: {code}")
        line = b"HTTP/1.1 %d %s\r\n" % (code, reason(code).encode("ascii"))
        _status_lines[code] = line
    return line


def body_allowed(code: int, method_is_head: bool) -> bool:
    """False when the response has no body (RFC 9110 §6.4.1): HEAD, 1xx,
    204 and 304. 1xx/204/304 also get no Content-Length added (§8.6)."""
    return not (method_is_head or code < 200 or code == 204 or code == 304)


def header_name_error(name: bytes) -> Optional[str]:
    """Why ``name`` cannot be sent as a field name, or None."""
    if not name or _BAD_NAME.search(name):
        return f"invalid HTTP header name {name!r}"
    return None


def header_value_error(value: bytes) -> Optional[str]:
    """Why ``value`` cannot be sent as a field value (CR, LF, NUL, controls), or None."""
    if _BAD_VALUE.search(value):
        return f"invalid HTTP header value {value!r}"
    return None


def connection_tokens(value: Optional[str]) -> Tuple[str, ...]:
    """Lower-cased tokens of a Connection header value (``None``: none)."""
    if not value:
        return ()
    return tuple(t.strip().lower() for t in value.split(","))


def keep_alive(http10: bool, connection: Optional[str]) -> bool:
    """Whether the connection may stay open after the response (RFC 9112
    §9.3): HTTP/1.1 unless the client sent ``Connection: close``; HTTP/1.0
    only when it asked for ``keep-alive``."""
    tokens = connection_tokens(connection)
    if "close" in tokens:
        return False
    if http10:
        return "keep-alive" in tokens
    return True


def origin_path(target: str) -> str:
    """The path part of a request target without its query: origin-form
    is returned as is, absolute-form (``http://host:port/p``) loses its
    scheme and authority (RFC 9112 §3.2.2); ``/`` when nothing is left."""
    if target[:1] == "/":
        return target
    sep = target.find("://")
    if sep > 0 and target[:sep].isalpha():
        slash = target.find("/", sep + 3)
        return target[slash:] if slash >= 0 else "/"
    return target


def decode_path(raw_path: bytes) -> str:
    """Percent-decode a path as uvicorn does (``unquote`` of the ASCII
    target): escapes that are not UTF-8 become U+FFFD, never lone
    surrogates, so the str can always be encoded. Raw non-ASCII bytes, which
    uvicorn refuses, are read as UTF-8 the same way."""
    return unquote(raw_path.decode("utf-8", "replace"))


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (RFC 9112 §7.1); ``data`` must not be empty."""
    return b"%x\r\n%s\r\n" % (len(data), data)
