"""HTTP/1.x facts shared by the server adapters (pymongoose.asgi, pymongoose.wsgi).

The adapters frame responses themselves (``Connection._http_send``): this
module holds what both need to decide that framing the same way: reason
phrases, status lines, which statuses have no body, header checks,
keep-alive decisions, chunk framing, the request target's path
(origin-form or absolute-form) and its decoding. Both adapters run these on
every request: what is per request here is a constant, a compiled regex or
one plain function, never a layer over another call.
"""

from __future__ import annotations

import re
from typing import Collection, Dict, List, Optional
from urllib.parse import unquote, unquote_to_bytes

__all__ = [
    "REASONS",
    "reason",
    "status_line",
    "NO_BODY",
    "NO_LENGTH",
    "TOKEN",
    "FIELD_VALUE",
    "TOKEN_RE",
    "HEADER_LINES_RE",
    "HEADER_BLOCK_RE",
    "header_name_error",
    "header_value_error",
    "connection_tokens",
    "keep_alive",
    "origin_path",
    "decode_path",
    "decode_path_latin1",
    "CHUNK",
    "LAST_CHUNK",
]

# RFC 9110's reason phrases, as uvicorn and gunicorn send them. Deliberately
# not core/reply.go's table: that one keeps Mongoose's older phrases so that
# Connection.reply() stays byte-compatible with pymongoose 0.1.4.
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

# One chunk of a chunked body (RFC 9112 §7.1): ``CHUNK % (len(data), data)``,
# ``data`` not empty (an empty chunk ends the body: LAST_CHUNK). A format,
# not a function: it is applied to every block of a streamed response.
CHUNK = b"%x\r\n%s\r\n"
LAST_CHUNK = b"0\r\n\r\n"

# Statuses whose responses have no body (RFC 9110 §6.4.1): 1xx (and anything
# below 200), 204 and 304; nor has the response to HEAD.
NO_BODY = frozenset(range(200)) | {204, 304}
# Of those, the ones that carry no Content-Length either (§8.6): a 304 may
# carry the length of the representation a GET would get.
NO_LENGTH = NO_BODY - {304}

# Regex sources (str; ``.encode()`` gives the bytes pattern): a field name is
# a token (RFC 9110 §5.6.2); a field value (§5.5), like a reason phrase
# (RFC 9112 §4), is visible characters, space, tab and obs-text: no CR, LF,
# NUL or other controls.
TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
FIELD_VALUE = r"[\t\x20-\x7e\x80-\xff]*"
_HEADER_LINES = r"(?:" + TOKEN + ": " + FIELD_VALUE + r"\r\n)*"

TOKEN_RE = re.compile(TOKEN)  # str names (WSGI)
_TOKEN_BYTES = re.compile(TOKEN.encode())
_VALUE_BYTES = re.compile(FIELD_VALUE.encode())
# A whole block of "name: value\r\n" lines: one fullmatch checks every
# header (str for WSGI, latin-1 text; bytes for ASGI). A CR or LF inside a
# value can still make a valid-looking line: callers compare the count of
# line ends with the count of headers.
HEADER_LINES_RE = re.compile(_HEADER_LINES)
HEADER_BLOCK_RE = re.compile(_HEADER_LINES.encode())

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


def header_name_error(name: bytes) -> Optional[str]:
    """Why ``name`` cannot be sent as a field name, or None."""
    if _TOKEN_BYTES.fullmatch(name) is None:
        return f"invalid HTTP header name {name!r}"
    return None


def header_value_error(value: bytes) -> Optional[str]:
    """Why ``value`` cannot be sent as a field value (CR, LF, NUL, controls), or None."""
    if _VALUE_BYTES.fullmatch(value) is None:
        return f"invalid HTTP header value {value!r}"
    return None


def connection_tokens(value: str) -> List[str]:
    """Lower-cased tokens of a Connection header value."""
    return [t.strip().lower() for t in value.split(",")]


def keep_alive(http10: bool, tokens: Collection[str]) -> bool:
    """Whether the connection may stay open after the response (RFC 9112
    §9.3), given the request's Connection ``tokens``: HTTP/1.1 unless the
    client sent ``close``; HTTP/1.0 only when it asked for ``keep-alive``.
    (No Connection header: HTTP/1.1 stays open, HTTP/1.0 closes.)"""
    if "close" in tokens:
        return False
    return not http10 or "keep-alive" in tokens


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


# The two adapters decode the path differently, as their references do.


def decode_path(raw_path: bytes) -> str:
    """ASGI ``path``: percent-decode as uvicorn does (``unquote`` of the
    ASCII target): escapes that are not UTF-8 become U+FFFD, never lone
    surrogates, so the str can always be encoded. Raw non-ASCII bytes, which
    uvicorn refuses, are read as UTF-8 the same way."""
    return unquote(raw_path.decode("utf-8", "replace"))


def decode_path_latin1(path: str) -> str:
    """WSGI ``PATH_INFO`` (PEP 3333): the percent-decoded bytes of the
    engine's target text (UTF-8, surrogateescape), one latin-1 character
    each."""
    return unquote_to_bytes(path.encode("utf-8", "surrogateescape")).decode("latin-1")
