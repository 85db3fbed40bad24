"""cymongoose 0.2 module functions and constants (docs/api.md 19.6, 19.8, 20)."""

import base64
import hashlib
import hmac
import logging
import re
import socket
import zlib

import pytest

import pymongoose
from pymongoose import _mongoose as m
from conftest import connect, poll_until, tcp_listen

NEW_FUNCS = [
    "event_name", "log_set", "log_get", "url_port", "url_host", "url_user", "url_pass", "url_uri",
    "url_is_ssl", "match", "http_var", "md5", "sha1", "sha256", "hmac_sha256", "base64_encode",
    "base64_decode", "millis", "random_bytes", "random_str", "crc32",
]

CONSTANTS = {
    "MG_LL_NONE": 0, "MG_LL_ERROR": 1, "MG_LL_INFO": 2, "MG_LL_DEBUG": 3, "MG_LL_VERBOSE": 4,
    "MQTT_PROP_TYPE_BYTE": 0, "MQTT_PROP_TYPE_STRING": 1, "MQTT_PROP_TYPE_STRING_PAIR": 2,
    "MQTT_PROP_TYPE_BINARY_DATA": 3, "MQTT_PROP_TYPE_VARIABLE_INT": 4, "MQTT_PROP_TYPE_INT": 5,
    "MQTT_PROP_TYPE_SHORT": 6,
}


def test_new_names_exported():
    for name in NEW_FUNCS + list(CONSTANTS) + ["Rpc", "RpcReq"]:
        assert name in m.__all__, name
        assert getattr(pymongoose, name) is getattr(m, name)
    assert len(m.__all__) == len(set(m.__all__))
    for name, value in CONSTANTS.items():
        assert getattr(m, name) == value and type(getattr(m, name)) is int


# -- event_name ------------------------------------------------------------

EV = ["MG_EV_ERROR", "MG_EV_OPEN", "MG_EV_POLL", "MG_EV_RESOLVE", "MG_EV_CONNECT", "MG_EV_ACCEPT",
      "MG_EV_TLS_HS", "MG_EV_READ", "MG_EV_WRITE", "MG_EV_CLOSE", "MG_EV_HTTP_HDRS", "MG_EV_HTTP_MSG",
      "MG_EV_WS_OPEN", "MG_EV_WS_MSG", "MG_EV_WS_CTL", "MG_EV_MQTT_CMD", "MG_EV_MQTT_MSG",
      "MG_EV_MQTT_OPEN", "MG_EV_SNTP_TIME", "MG_EV_WAKEUP", "MG_EV_USER"]


def test_event_name():
    for i, name in enumerate(EV):
        assert m.event_name(i) == name
        assert getattr(m, name) == i
    assert m.event_name(21) == "MG_EV_USER+1"
    assert m.event_name(m.MG_EV_USER + 100) == "MG_EV_USER+100"
    assert m.event_name(-1) == "MG_EV_UNKNOWN(-1)"
    assert m.event_name(-2**70) == f"MG_EV_UNKNOWN({-2**70})"
    assert m.event_name(2**70) == f"MG_EV_USER+{2**70 - 20}"
    assert m.event_name(ev=9) == "MG_EV_CLOSE"
    with pytest.raises(TypeError):
        m.event_name("1")


# -- url_* -------------------------------------------------------------------

URLS = [
    # url, port, host, user, pass, uri, is_ssl
    ("http://example.com", 80, "example.com", "", "", "/", False),
    ("http://example.com:8080/path?q=1", 8080, "example.com", "", "", "/path?q=1", False),
    ("https://example.com/", 443, "example.com", "", "", "/", True),
    ("ws://h", 80, "h", "", "", "/", False),
    ("wss://h:9/x", 9, "h", "", "", "/x", True),
    ("mqtt://broker", 1883, "broker", "", "", "/", False),
    ("mqtts://broker", 8883, "broker", "", "", "/", True),
    ("tcp://1.2.3.4:5", 5, "1.2.3.4", "", "", "/", False),
    ("tcp://1.2.3.4", 0, "1.2.3.4", "", "", "/", False),
    ("udp://1.2.3.4:53", 53, "1.2.3.4", "", "", "/", False),
    ("ssl://a", 0, "a", "", "", "/", True),
    ("tls://a", 0, "a", "", "", "/", True),
    ("tcps://a", 0, "a", "", "", "/", True),
    ("foo://a", 0, "a", "", "", "/", False),
    ("http://user:pass@host:1234/p", 1234, "host", "user", "pass", "/p", False),
    ("http://user@host/p", 80, "host", "user", "", "/p", False),
    ("http://[::1]:8080/x", 8080, "[::1]", "", "", "/x", False),
    ("http://[::1]", 80, "[::1]", "", "", "/", False),
    ("127.0.0.1:8000", 8000, "127.0.0.1", "", "", "/", False),
    ("", 0, "", "", "", "/", False),
    ("HTTPS://Example.COM", 443, "Example.COM", "", "", "/", True),
    ("http://h/a@b:c", 80, "h", "", "", "/a@b:c", False),
]


@pytest.mark.parametrize("url,port,host,user,pw,uri,ssl", URLS)
def test_url_functions(url, port, host, user, pw, uri, ssl):
    assert m.url_port(url) == port
    assert m.url_host(url) == host
    assert m.url_user(url) == user
    assert m.url_pass(url) == pw
    assert m.url_uri(url) == uri
    assert m.url_is_ssl(url) is ssl


def test_url_functions_want_str():
    for f in (m.url_port, m.url_host, m.url_user, m.url_pass, m.url_uri, m.url_is_ssl):
        with pytest.raises(TypeError):
            f(b"http://h")
    assert m.url_host(url="http://h:1") == "h"


# -- match -------------------------------------------------------------------

MATCHES = [
    ("/api/users", "/api/*", True, ["users"]),
    ("/api/users/123", "/api/*", False, []),
    ("/api/users/123", "/api/#", True, ["users/123"]),
    ("/api/v1/users", "/api/*/users", True, ["v1"]),
    ("abc", "a?c", True, ["b"]),
    ("a/c", "a?c", True, ["/"]),
    ("ac", "a?c", False, []),
    ("abc", "abc", True, []),
    ("abc", "ABC", False, []),
    ("", "", True, []),
    ("", "#", True, [""]),
    ("/api/", "/api/*", True, [""]),
    ("a/b/c", "*/*/*", True, ["a", "b", "c"]),
    ("a/b/c", "#/*", True, ["a/b", "c"]),
    ("xa/ab", "#a*b", True, ["xa/", ""]),
    ("abab", "a*b*", True, ["", "ab"]),
    ("héllo wörld", "h?llo *", True, ["é", "wörld"]),
]


@pytest.mark.parametrize("s,pattern,ok,caps", MATCHES)
def test_match(s, pattern, ok, caps):
    assert m.match(s, pattern) == (ok, caps)


def test_match_caps_limit_and_types():
    ok, caps = m.match("x" * 25, "?" * 25)
    assert ok and caps == ["x"] * 20
    assert m.match(s="a", pattern="?") == (True, ["a"])
    with pytest.raises(TypeError):
        m.match(b"a", "a")
    with pytest.raises(TypeError):
        m.match("a", None)


# -- http_var ----------------------------------------------------------------

def test_http_var():
    q = "a=1&B=x%20y+z&empty=&flag&&c=%zz"
    assert m.http_var(q, "a") == "1"
    assert m.http_var(q, "b") == "x%20y+z"  # raw, case-insensitive name
    assert m.http_var(q, "empty") == ""
    assert m.http_var(q, "flag") == ""
    assert m.http_var(q, "c") == "%zz"
    assert m.http_var(q, "missing") is None
    assert m.http_var(b"k=v", "k") == "v"
    assert m.http_var(bytearray(b"k=v&k=w"), "K") == "v"
    assert m.http_var(memoryview(b"x=" + b"9" * 5000), "x") == "9" * 5000  # no length limit
    assert m.http_var("", "a") is None
    assert m.http_var("ab=1", "a") is None
    with pytest.raises(TypeError):
        m.http_var("a=1", b"a")


# -- digests, base64, crc32, random, millis ---------------------------------

@pytest.mark.parametrize("data", [b"", b"abc", "héllo", bytes(range(256)) * 300, bytearray(b"xy")])
def test_digests(data):
    raw = data.encode() if isinstance(data, str) else bytes(data)
    assert m.md5(data) == hashlib.md5(raw).digest()
    assert m.sha1(data) == hashlib.sha1(raw).digest()
    assert m.sha256(data) == hashlib.sha256(raw).digest()
    assert m.hmac_sha256(b"key", data) == hmac.new(b"key", raw, hashlib.sha256).digest()
    assert m.hmac_sha256("k" * 100, data) == hmac.new(b"k" * 100, raw, hashlib.sha256).digest()
    assert m.crc32(data) == zlib.crc32(raw)
    assert m.base64_encode(data) == base64.b64encode(raw).decode()
    assert m.base64_decode(base64.b64encode(raw).decode()) == raw


def test_digest_known_values():
    assert m.md5("").hex() == "d41d8cd98f00b204e9800998ecf8427e"
    assert m.sha1("abc").hex() == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert m.sha256("abc").hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert m.hmac_sha256(b"key", b"The quick brown fox jumps over the lazy dog").hex() == (
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")
    assert len(m.md5(b"x")) == 16 and len(m.sha1(b"x")) == 20 and len(m.sha256(b"x")) == 32


def test_base64():
    assert m.base64_encode(b"") == ""
    assert m.base64_encode("hello") == "aGVsbG8="
    assert m.base64_decode("aGVsbG8=") == b"hello"
    assert m.base64_decode("aGVsbG8") == b"hel"  # trailing partial group ignored
    assert m.base64_decode("") == b""
    assert m.base64_decode("QQ==QUJD") == b"AABC"
    assert m.base64_decode("QU!D") == b""
    assert m.base64_decode("=QUJ") == b""
    assert m.base64_decode("+/+/") == b"\xfb\xff\xbf"
    with pytest.raises(UnicodeEncodeError):
        m.base64_decode("é")
    with pytest.raises(TypeError):
        m.base64_decode(b"QUJD")


def test_crc32_chaining():
    assert m.crc32(b"hello") == 907060870
    assert m.crc32("world", m.crc32("hello ")) == zlib.crc32(b"hello world")
    assert m.crc32(b"", 12345) == 12345
    assert m.crc32(b"abc", initial=0xFFFFFFFF) == zlib.crc32(b"abc", 0xFFFFFFFF)
    with pytest.raises(OverflowError):
        m.crc32(b"a", -1)
    with pytest.raises(OverflowError):
        m.crc32(b"a", 2**32)


def test_random():
    a, b = m.random_bytes(32), m.random_bytes(32)
    assert type(a) is bytes and len(a) == 32 and a != b
    assert m.random_bytes(0) == b""
    s = m.random_str(64)
    assert re.fullmatch(r"[0-9a-zA-Z]{64}", s)
    assert m.random_str(0) == ""
    assert len(set(m.random_str(2000))) > 40
    with pytest.raises(OverflowError):
        m.random_bytes(-1)
    with pytest.raises(OverflowError):
        m.random_str(-1)
    with pytest.raises(TypeError):
        m.random_bytes("3")


def test_millis_is_monotonic_int():
    a = m.millis()
    b = m.millis()
    assert type(a) is int and b >= a


# -- log_set / log_get -------------------------------------------------------

@pytest.fixture
def log_level():
    old = m.log_get()
    yield
    m.log_set(old)


def test_log_default_is_none():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", "import pymongoose; print(pymongoose.log_get())"],
                         capture_output=True, text=True, check=True)
    assert out.stdout == "0\n" and out.stderr == ""


def test_log_set_get(log_level):
    for level in (m.MG_LL_ERROR, m.MG_LL_INFO, m.MG_LL_DEBUG, m.MG_LL_VERBOSE, m.MG_LL_NONE):
        m.log_set(level)
        assert m.log_get() == level
    m.log_set(level=m.MG_LL_INFO)
    assert m.log_get() == 2


def test_engine_log_lines_go_to_logging(make_manager, recorder, caplog, log_level):
    caplog.set_level(logging.DEBUG, logger="pymongoose")
    rec = recorder()
    mgr = make_manager()
    m.log_set(m.MG_LL_NONE)
    tcp_listen(mgr, rec)
    assert not [r for r in caplog.records if r.name == "pymongoose"]

    m.log_set(m.MG_LL_DEBUG)
    lst, port = tcp_listen(mgr, rec)
    s = connect(port)
    try:
        poll_until(mgr, lambda: rec.has(m.MG_EV_ACCEPT))
        c = rec.conns_with(m.MG_EV_ACCEPT)[0]
        c.error("boom")
    finally:
        s.close()
    recs = [r for r in caplog.records if r.name == "pymongoose"]
    msgs = [(r.levelno, r.getMessage()) for r in recs]
    assert (logging.DEBUG, f"{lst.id} listening on 127.0.0.1:{port}") in msgs
    assert any(lv == logging.DEBUG and "accepted" in t for lv, t in msgs)
    assert (logging.ERROR, f"{c.id} boom") in msgs

    # MG_LL_ERROR keeps only the error lines
    caplog.clear()
    m.log_set(m.MG_LL_ERROR)
    tcp_listen(mgr, rec)
    with pytest.raises(RuntimeError):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        try:
            mgr.listen(f"tcp://127.0.0.1:{busy.getsockname()[1]}")
        finally:
            busy.close()
    msgs = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "pymongoose"]
    assert msgs and all(lv == logging.ERROR for lv, _ in msgs)
    assert any("listen on tcp://127.0.0.1:" in t for _, t in msgs)
