"""Module-level functions: json_* (API 16.5), url_encode (16.6),
http_parse_multipart (16.7), and TlsOpts (11.1)."""

import array
import math
import subprocess
import sys
import textwrap

import pytest

import pymongoose
from pymongoose import (
    TlsOpts,
    http_parse_multipart,
    json_get,
    json_get_bool,
    json_get_long,
    json_get_num,
    json_get_str,
    url_encode,
)

DOC = (
    '{"name":"Alice","age":30,"ok":true,"no":false,"nil":null,'
    '"tags":["x","y",{"k":[10,20,30]}],"obj":{ "a" : [1, 2] },"e":"a\\"b"}'
)


def nested(depth, inner="1"):
    return "[" * depth + inner + "]" * depth


# ---------------------------------------------------------------------------
# json_get


@pytest.mark.parametrize(
    "data, path, want",
    [
        (DOC, "$", DOC),
        (" 42 ", "$", "42"),
        (DOC, "$.name", '"Alice"'),
        (DOC, "$.e", '"a\\"b"'),
        (DOC, "$.age", "30"),
        (DOC, "$.ok", "true"),
        (DOC, "$.no", "false"),
        (DOC, "$.nil", "null"),
        (DOC, "$.tags", '["x","y",{"k":[10,20,30]}]'),
        (DOC, "$.obj", '{ "a" : [1, 2] }'),
        (DOC, "$.tags[1]", '"y"'),
        (DOC, "$.tags[2].k[2]", "30"),
        ("[[1,2],[3,4]]", "$[1][0]", "3"),
        ("[[1,2],[3,4]]", "$[1]", "[3,4]"),
        ('{"a":1e3}', "$.a", "1e3"),
        ('{"a":01}', "$.a", "01"),
        ('{"a":1,"a":2}', "$.a", "1"),
        ('{"a\\u0062":1}', "$.a\\u0062", "1"),
        ('{"a":{}}', "$.a", "{}"),
        ('{"a":[]}', "$.a", "[]"),
        ('{"s":"é"}', "$.s", '"é"'),
        # Quirks.
        ('{"a.b":1}', "$.a.b", "1"),
        ('{"a":1,', "$.a", "1"),
        ('{"a":[1,2] xxx', "$.a", "[1,2]"),
        ("truex", "$", "true"),
        # Depth: 30 levels are fine.
        (nested(30), "$", nested(30)),
        (nested(30, "7"), "$" + "[0]" * 30, "7"),
        ('{"a":1,"b":' + nested(40, "") + "}", "$.a", "1"),
    ],
)
def test_json_get(data, path, want):
    assert json_get(data, path) == want


@pytest.mark.parametrize(
    "data, path",
    [
        (DOC, "name"),
        (DOC, ""),
        (DOC, "$.zzz"),
        ("[1,2]", "$[2]"),
        ("[1,2]", "$[-1]"),
        ("[1,2]", "$[*]"),
        ('{"ab":1}', "$.a"),
        ('{"a":1}', "$.ab"),
        ('{"b":{"a":1}}', "$.a"),
        ('{"a":1,"b":2}', "$.a.b"),
        ('{"a\\u0062":1}', "$.ab"),
        ('{"a":+1}', "$.a"),
        ('{"x":?,"a":1}', "$.a"),
        ('{"x":"abc', "$.a"),
        ('{"a" 1}', "$.a"),
        ("", "$"),
        (nested(31), "$"),
        ('{"b":' + nested(40, "") + ',"a":1}', "$.a"),
    ],
)
def test_json_get_not_found(data, path):
    assert json_get(data, path) is None


def test_json_get_data_types():
    doc = b'{"a":[1,"x"]}'
    for data in (doc, bytearray(doc), memoryview(doc), array.array("B", doc), doc.decode()):
        assert json_get(data, "$.a[1]") == '"x"'
    # Keywords work.
    assert json_get(data=doc, path="$.a[0]") == "1"


def test_json_get_surrogateescape():
    raw = json_get(b'{"a":"\xff"}', "$.a")
    assert raw == '"\udcff"'
    assert raw.encode("utf-8", "surrogateescape") == b'"\xff"'


@pytest.mark.parametrize("fn", [json_get, json_get_num, json_get_bool, json_get_long, json_get_str])
def test_json_path_must_be_str(fn):
    with pytest.raises(TypeError):
        fn('{"a":1}', b"$.a")
    with pytest.raises(TypeError):
        fn('{"a":1}', None)
    with pytest.raises(TypeError):
        fn(None, "$.a")
    with pytest.raises(TypeError):
        fn(object(), "$.a")
    with pytest.raises(TypeError):
        fn('{"a":1}')


# ---------------------------------------------------------------------------
# json_get_num / json_get_bool / json_get_long


@pytest.mark.parametrize(
    "tok, want",
    [("1", 1.0), ("-2.5", -2.5), ("1e3", 1000.0), ("1E-2", 0.01), ("1.23", 1.23), ("01", 1.0)],
)
def test_json_get_num(tok, want):
    got = json_get_num('{"a":%s}' % tok, "$.a")
    assert type(got) is float
    assert got == pytest.approx(want, rel=1e-15)


def test_json_get_num_edges():
    assert json_get_num('{"a":1e400}', "$.a") == math.inf
    assert json_get_num('{"a":-1e400}', "$.a") == -math.inf
    assert math.copysign(1, json_get_num("[-0]", "$[0]")) == -1


@pytest.mark.parametrize("tok", ['"1"', "true", "null", "+1", "[1]", "{}"])
def test_json_get_num_default(tok):
    sentinel = object()
    assert json_get_num('{"a":%s}' % tok, "$.a") is None
    assert json_get_num('{"a":%s}' % tok, "$.a", sentinel) is sentinel
    assert json_get_num('{"a":%s}' % tok, "$.a", default="x") == "x"
    assert json_get_num("{}", "$.a", 5) == 5


def test_json_get_bool():
    assert json_get_bool('{"a":true}', "$.a") is True
    assert json_get_bool('{"a":false}', "$.a") is False
    assert json_get_bool('{"a":false}', "$.a", True) is False
    assert json_get_bool('{"a":null}', "$.a") is None
    assert json_get_bool('{"a":"true"}', "$.a", 7) == 7
    assert json_get_bool('{"a":1}', "$.a", default=False) is False
    assert json_get_bool("{}", "$.a", "d") == "d"


@pytest.mark.parametrize(
    "tok, want",
    [
        ("42", 42),
        ("3.9", 3),
        ("-3.9", -3),
        ("1e3", 1000),
        ("0.5", 0),
        ("-0.5", 0),
        ("9007199254740993", 9007199254740992),  # above 2**53: through a double
    ],
)
def test_json_get_long(tok, want):
    got = json_get_long('{"a":%s}' % tok, "$.a")
    assert type(got) is int
    assert got == want


def test_json_get_long_default():
    assert json_get_long('{"a":"5"}', "$.a") == 0
    assert json_get_long('{"a":+5}', "$.a", 7) == 7  # leading + is not a number
    assert json_get_long('{"a":true}', "$.a", -1) == -1
    assert json_get_long("{}", "$.a", default=2**63 - 1) == 2**63 - 1
    assert json_get_long("{}", "$.a", True) == 1
    with pytest.raises(TypeError, match="an integer is required"):
        json_get_long("{}", "$.a", None)
    # The default is checked even when the value is found.
    with pytest.raises(TypeError, match="an integer is required"):
        json_get_long('{"a":1}', "$.a", None)
    with pytest.raises(TypeError):
        json_get_long("{}", "$.a", "1")
    with pytest.raises(OverflowError):
        json_get_long("{}", "$.a", 2**63)


# ---------------------------------------------------------------------------
# json_get_str


@pytest.mark.parametrize(
    "tok, want",
    [
        ('"Alice"', "Alice"),
        ('""', ""),
        ('"a\\"b\\\\c"', 'a"b\\c'),
        ('"\\b\\f\\n\\r\\t"', "\b\f\n\r\t"),
        ('"\\u0041"', "A"),
        ('"\\u00e9"', "\udce9"),
        ('"x\\u00E9y"', "x\udce9y"),
        ('"é"', "é"),
    ],
)
def test_json_get_str(tok, want):
    assert json_get_str('{"k":%s}' % tok, "$.k") == want


@pytest.mark.parametrize(
    "tok", ['"\\/"', '"a\\/b"', '"\\u0100"', '"\\u20ac"', '"\\u00"', '"\\x"', "1", "true", "null", '["a"]']
)
def test_json_get_str_none(tok):
    assert json_get_str('{"k":%s}' % tok, "$.k") is None


def test_json_get_str_bytes_roundtrip():
    # \u00XX produces raw bytes; two of them can form valid UTF-8.
    assert json_get_str('{"k":"\\u00c3\\u00a9"}', "$.k") == "é"
    assert json_get_str('{"k":"\\u00e9"}', "$.k").encode("utf-8", "surrogateescape") == b"\xe9"
    assert json_get_str("{}", "$.k") is None
    long_value = "x" * 100000 + "\\n"
    assert json_get_str('{"k":"%s"}' % long_value, "$.k") == "x" * 100000 + "\n"


# ---------------------------------------------------------------------------
# url_encode


@pytest.mark.parametrize(
    "data, want",
    [
        ("", ""),
        ("a", "a"),
        (" ", "%20"),
        ("~", "~"),
        ("  ", "%20%20"),
        ("é", "%c3%a9"),
        ("a b&c", "a%20b%26c"),
        ("AZaz09-._~", "AZaz09-._~"),
        ("/?#=+%", "%2f%3f%23%3d%2b%25"),
        ("\x00\x7f", "%00%7f"),
        ("€", "%e2%82%ac"),
    ],
)
def test_url_encode(data, want):
    assert url_encode(data) == want
    assert url_encode(data=data) == want


def test_url_encode_long():
    s = "é " * 10000
    assert url_encode(s) == "%c3%a9%20" * 10000


@pytest.mark.parametrize("bad", [b"abc", bytearray(b"x"), None, 1])
def test_url_encode_requires_str(bad):
    with pytest.raises(TypeError):
        url_encode(bad)


# ---------------------------------------------------------------------------
# http_parse_multipart

MP = (
    b"--xyz\r\n"
    b'Content-Disposition: form-data; name="val"\r\n'
    b"\r\n"
    b"abcdef\r\n"
    b"--xyz\r\n"
    b'Content-Disposition: form-data; name="foo"; filename="a.txt"\r\n'
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"hello world\r\n"
    b"--xyz--\r\n"
)


def test_multipart_example():
    assert http_parse_multipart(MP) == (61, {"name": "val", "filename": "", "body": b"abcdef"})
    assert http_parse_multipart(MP, 61) == (171, {"name": "foo", "filename": "a.txt", "body": b"hello world"})
    assert http_parse_multipart(MP, 171) == (0, None)
    assert http_parse_multipart(body=MP, offset=61)[0] == 171


def test_multipart_iterate():
    parts, off = [], 0
    while True:
        off, part = http_parse_multipart(MP, off)
        if part is None:
            break
        parts.append(part)
    assert off == 0
    assert [p["name"] for p in parts] == ["val", "foo"]
    assert list(parts[0]) == ["name", "filename", "body"]


def test_multipart_input_types():
    for body in (MP.decode(), bytearray(MP), memoryview(MP)):
        assert http_parse_multipart(body, 61)[1]["filename"] == "a.txt"


def test_multipart_binary_body():
    payload = b"\x00\x01\r\n\x00\xff--b\x00"
    body = b'--b\r\nContent-Disposition: form-data; name="f"; filename="x.bin"\r\n\r\n' + payload + b"\r\n--b--\r\n"
    nxt, part = http_parse_multipart(body)
    assert part == {"name": "f", "filename": "x.bin", "body": payload}
    assert body[nxt:] == b"--b--\r\n"


def test_multipart_name_quirk():
    body = b'--x\r\ncontent-disposition: form-data; filename="f.txt"; name="n"\r\n\r\nv\r\n--x--\r\n'
    assert http_parse_multipart(body)[1] == {"name": "f.txt", "filename": "f.txt", "body": b"v"}


def test_multipart_non_utf8_name():
    body = b'--x\r\nContent-Disposition: form-data; name="\xff"\r\n\r\nv\r\n--x--\r\n'
    assert http_parse_multipart(body)[1]["name"] == "\udcff"


@pytest.mark.parametrize(
    "body, offset",
    [
        (MP, 171),  # end marker
        (MP, len(MP)),
        (MP, len(MP) + 1),
        (MP, 2**40),
        (b"", 0),
        (b"garbage", 0),
        (b'--x\r\nContent-Disposition: form-data; name="a"\r\n', 0),  # no blank line
        (b"--x\r\n\r\nabc", 0),  # truncated body
        (MP[:150], 61),
    ],
)
def test_multipart_none(body, offset):
    assert http_parse_multipart(body, offset) == (0, None)


def test_multipart_offset_errors():
    with pytest.raises(OverflowError):
        http_parse_multipart(MP, -1)
    with pytest.raises(OverflowError):
        http_parse_multipart(MP, 2**70)
    with pytest.raises(TypeError):
        http_parse_multipart(MP, None)
    with pytest.raises(TypeError):
        http_parse_multipart(MP, 1.5)
    with pytest.raises(TypeError):
        http_parse_multipart(None)
    assert isinstance(http_parse_multipart(MP, True), tuple)  # bool is an int


# ---------------------------------------------------------------------------
# TlsOpts


def test_tlsopts_defaults():
    o = TlsOpts()
    assert (o.ca, o.cert, o.key, o.name) == (b"", b"", b"", b"")
    assert o.skip_verification is False
    assert type(o).__module__ == "pymongoose._mongoose"
    assert pymongoose._mongoose.TlsOpts is TlsOpts


def test_tlsopts_constructor_conversions():
    o = TlsOpts("caé", b"cert", key=b"", name=0, skip_verification=1)
    assert o.ca == "caé".encode()
    assert o.cert == b"cert"
    assert o.key == b""
    assert o.name == b""
    assert o.skip_verification is True
    for falsy in (None, "", b"", 0, False, bytearray(), [], ()):
        assert TlsOpts(ca=falsy).ca == b""
    assert TlsOpts(skip_verification="yes").skip_verification is True
    assert TlsOpts(skip_verification=[]).skip_verification is False


@pytest.mark.parametrize(
    "value, tname",
    [(5, "int"), (bytearray(b"x"), "bytearray"), (1.5, "float"), ([1], "list"), (memoryview(b"x"), "memoryview")],
)
@pytest.mark.parametrize("field", ["ca", "cert", "key", "name"])
def test_tlsopts_constructor_type_errors(field, value, tname):
    with pytest.raises(TypeError, match=f"^Expected bytes, got {tname}$"):
        TlsOpts(**{field: value})


@pytest.mark.parametrize("field", ["ca", "cert", "key", "name"])
def test_tlsopts_attributes(field):
    o = TlsOpts()
    setattr(o, field, b"pem")
    assert getattr(o, field) == b"pem"
    with pytest.raises(TypeError, match="^Expected bytes, got str$"):
        setattr(o, field, "pem")
    with pytest.raises(TypeError, match="^Expected bytes, got bytearray$"):
        setattr(o, field, bytearray(b"pem"))
    assert getattr(o, field) == b"pem"


def test_tlsopts_skip_verification_attribute():
    o = TlsOpts()
    o.skip_verification = "x"
    assert o.skip_verification is True
    o.skip_verification = 0
    assert o.skip_verification is False


def test_tlsopts_no_other_attributes():
    o = TlsOpts()
    with pytest.raises(AttributeError):
        o.other = 1


# ---------------------------------------------------------------------------
# Robustness: bad arguments never crash the interpreter.


def test_bad_arguments_never_crash():
    code = textwrap.dedent(
        """
        import pymongoose as p
        class Weird:
            def __bytes__(self):
                raise ValueError("no")
            def __index__(self):
                raise ValueError("no")
        values = [None, 1, -1, 2**80, 1.5, "x", b"x", "\\udcff", Weird(), object(), [1], {}, bytearray(b"{"), "$"]
        fns = [p.json_get, p.json_get_num, p.json_get_bool, p.json_get_long, p.json_get_str,
               p.url_encode, p.http_parse_multipart]
        for fn in fns:
            for a in values:
                for b in values:
                    for args in ((a,), (a, b), (a, b, a), (a, b, a, b)):
                        try:
                            fn(*args)
                        except Exception:
                            pass
        print("ok")
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_functions_refuse_forked_child():
    code = textwrap.dedent(
        """
        import os, warnings
        warnings.simplefilter("ignore")
        import pymongoose as p
        assert p.json_get("[1]", "$[0]") == "1"
        pid = os.fork()
        if pid == 0:
            try:
                p.json_get("[1]", "$[0]")
                os._exit(1)
            except RuntimeError as e:
                os._exit(0 if "fork" in str(e) else 2)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "0", r.stderr


def test_large_inputs_from_threads():
    import threading

    doc = '{"pad":"' + "x" * 200000 + '","a":[1,2,{"b":"\\u0041"}]}'
    body = MP.replace(b"abcdef", b"\x00" * 100000)
    errors = []

    def work():
        try:
            for _ in range(20):
                assert json_get_str(doc, "$.a[2].b") == "A"
                assert json_get_long(doc, "$.a[1]") == 2
                nxt, part = http_parse_multipart(body)
                assert part["body"] == b"\x00" * 100000
                assert http_parse_multipart(body, nxt)[1]["filename"] == "a.txt"
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
