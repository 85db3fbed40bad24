"""reply() exact wire format (API 5.7, 5.8, 7.7)."""

import pytest

from pymongoose import MG_EV_ACCEPT, MG_EV_HTTP_MSG, MG_EV_READ

from conftest import (
    connect,
    content_length_line,
    http_listen,
    poll_until,
    recv_all,
    reply_bytes,
    run_client,
    tcp_listen,
)


def wire(make_manager, recorder, action):
    """Bytes a client receives when the MG_EV_HTTP_MSG handler runs
    ``action(conn)`` and then drains."""
    queued = []

    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            action(c)
            queued.append(c.send_data())
            c.drain()

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)

    def client():
        s = connect(port)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = recv_all(s)
        s.close()
        return data

    got = run_client(mgr, client)
    assert queued == [got], "send_data() inside the handler differs from the wire"
    return got


def test_content_length_padding():
    # one space, length left-justified in 10 characters, one space
    assert content_length_line(2) == b"Content-Length: 2          \r\n"
    assert len(content_length_line(2)) == len(b"Content-Length:") + 12 + 2


def test_default_headers(make_manager, recorder):
    got = wire(make_manager, recorder, lambda c: c.reply(200, b"hi"))
    assert got == (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: text/plain\r\n"
        b"Content-Length: 2          \r\n"
        b"\r\n"
        b"hi"
    )


def test_empty_headers_dict_gives_no_header_lines(make_manager, recorder):
    got = wire(make_manager, recorder, lambda c: c.reply(200, b"", {}))
    assert got == b"HTTP/1.1 200 OK\r\nContent-Length: 0          \r\n\r\n"


def test_headers_in_dict_order_and_str_converted(make_manager, recorder):
    hdrs = {"X-B": "2", "X-A": 1, "Content-Type": "application/json"}
    got = wire(make_manager, recorder, lambda c: c.reply(201, '{"a":1}', hdrs))
    assert got == (
        b"HTTP/1.1 201 Created\r\n"
        b"X-B: 2\r\n"
        b"X-A: 1\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: 7          \r\n"
        b"\r\n"
        b'{"a":1}'
    )


def test_user_content_length_is_sent_in_addition(make_manager, recorder):
    got = wire(make_manager, recorder, lambda c: c.reply(200, b"abc", {"Content-Length": "3"}))
    assert got == b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n" + content_length_line(3) + b"\r\nabc"


@pytest.mark.parametrize(
    "code,reason",
    [
        (200, "OK"),
        (226, "IM Used"),
        (301, "Moved Permanently"),
        (404, "Not Found"),
        (418, "I'm a teapot"),
        (431, "Request Header Fields Too Large"),
        (503, "Service Unavailable"),
        (599, "Network Connect Timeout Error"),
        (299, ""),
        (-1, ""),
        (1000, ""),
    ],
)
def test_status_line_and_reason(make_manager, recorder, code, reason):
    got = wire(make_manager, recorder, lambda c: c.reply(code, b""))
    assert got == reply_bytes(code, reason, b"")


def test_unknown_code_has_space_before_crlf(make_manager, recorder):
    got = wire(make_manager, recorder, lambda c: c.reply(299))
    assert got.startswith(b"HTTP/1.1 299 \r\n")
    assert got == reply_bytes(299, "", b"")


def test_str_body_is_utf8_and_length_counts_bytes(make_manager, recorder):
    got = wire(make_manager, recorder, lambda c: c.reply(200, "héllo €"))
    body = "héllo €".encode()
    assert got == reply_bytes(200, "OK", body)
    assert content_length_line(len(body)) in got


@pytest.mark.parametrize("body", [bytearray(b"\x01\x02xyz"), memoryview(b"mv-body"), [65, 66, 67]])
def test_bytes_like_bodies(make_manager, recorder, body):
    got = wire(make_manager, recorder, lambda c: c.reply(200, body))
    assert got == reply_bytes(200, "OK", bytes(body))


def test_reply_is_binary_safe(make_manager, recorder):
    body = b"ab\x00cd\x00\x00\xff"
    got = wire(make_manager, recorder, lambda c: c.reply(200, body, {}))
    assert got == b"HTTP/1.1 200 OK\r\n" + content_length_line(8) + b"\r\n" + body


def test_reply_body_starting_with_nul(make_manager, recorder):
    body = bytes(range(256)) * 4
    got = wire(make_manager, recorder, lambda c: c.reply(200, body, {"Content-Type": "a/b"}))
    assert got == reply_bytes(200, "OK", body, {"Content-Type": "a/b"})


@pytest.mark.parametrize(
    "headers,what",
    [
        ({"X-Bad\r\nInjected": "1"}, "name"),
        ({"X-Bad\n": "1"}, "name"),
        ({"X-Nul\x00": "1"}, "name"),
        ({"X-Ok": "a\r\nSet-Cookie: evil=1"}, "value"),
        ({"X-Ok": "a\rb"}, "value"),
        ({"X-Ok": "a\x00b"}, "value"),
    ],
)
def test_crlf_nul_in_headers_raise_valueerror_before_queueing(make_manager, recorder, headers, what):
    results = []

    def action(c):
        before = c.send_len
        try:
            c.reply(200, b"body", headers)
        except ValueError as exc:
            results.append(str(exc))
        results.append(c.send_len == before)
        c.reply(400, b"")

    got = wire(make_manager, recorder, action)
    assert len(results) == 2, "reply() did not raise ValueError"
    assert results[0].startswith(f"Header {what} contains illegal character"), results[0]
    assert results[1] is True, "something was queued before the ValueError"
    assert got == reply_bytes(400, "Bad Request", b"")


def test_reply_argument_types(make_manager, recorder):
    errors = {}

    def action(c):
        for key, call in {
            "code-str": lambda: c.reply("200"),
            "body-none": lambda: c.reply(200, None),
        }.items():
            try:
                call()
            except TypeError as exc:
                errors[key] = str(exc)
        try:
            c.reply(200, b"", ["not", "a", "dict"])
        except AttributeError as exc:
            errors["headers-list"] = str(exc)
        c.reply(200, b"fine")

    got = wire(make_manager, recorder, action)
    assert set(errors) == {"code-str", "body-none", "headers-list"}
    assert all(errors.values()), errors  # every error has a message
    assert got == reply_bytes(200, "OK", b"fine")


def test_reply_never_drains_and_does_not_close(make_manager, recorder):
    state = []

    def on(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            c.reply(200, b"a")
            state.append((c.is_draining, c.is_closing))

    rec = recorder(on)
    mgr = make_manager()
    _, port = http_listen(mgr, rec)
    s = connect(port)
    try:
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        poll_until(mgr, lambda: state)
        assert state == [(False, False)]
    finally:
        s.close()


def test_reply_on_raw_tcp_connection_just_queues(make_manager, recorder):
    def on(c, ev, d):
        if ev == MG_EV_READ:
            c.reply(200, b"raw")
            c.drain()

    rec = recorder(on)
    mgr = make_manager()
    _, port = tcp_listen(mgr, rec)

    def client():
        s = connect(port)
        s.sendall(b"not http at all")
        return recv_all(s)

    assert run_client(mgr, client) == reply_bytes(200, "OK", b"raw")


def test_send_conversions(make_manager, recorder):
    rec = recorder()
    mgr = make_manager()
    _, port = tcp_listen(mgr, rec)
    s = connect(port)
    try:
        poll_until(mgr, lambda: rec.has(MG_EV_ACCEPT))
        c = rec.conns_with(MG_EV_ACCEPT)[0]
        c.send("é")
        c.send(b"b")
        c.send(bytearray(b"c"))
        c.send(memoryview(b"d"))
        c.send([101, 102])
        c.send(3)
        expected = "é".encode() + b"bcdef" + b"\x00" * 3
        assert c.send_data() == expected
        assert c.send_len == len(expected)
        assert c.send_data(3) == expected[:3]
        with pytest.raises(TypeError, match="cannot convert 'NoneType' object to bytes"):
            c.send(None)
        with pytest.raises(RuntimeError, match="mg_send failed"):
            c.send(b"")
        c.drain()
        assert run_client(mgr, recv_all, s) == expected
    finally:
        s.close()
