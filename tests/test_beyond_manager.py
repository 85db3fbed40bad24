"""cymongoose 0.2 Manager and Connection additions (docs/api.md 19.1-19.3):
error_handler, context manager, connections, wakeup_id, run(), the http
inference, reply_json."""

import json
import os
import signal
import socket
import threading

import pytest

from pymongoose import (
    MG_EV_ACCEPT,
    MG_EV_CLOSE,
    MG_EV_CONNECT,
    MG_EV_HTTP_MSG,
    MG_EV_OPEN,
    MG_EV_READ,
    MG_EV_WAKEUP,
    Connection,
    Manager,
)
from conftest import (
    ResponseReader,
    connect,
    content_length_line,
    http_listen,
    poll_until,
    recv_all,
    run_client,
    tcp_listen,
)


class Boom(Exception):
    pass


class Stop(BaseException):
    pass


# -- error_handler ---------------------------------------------------------

def test_error_handler_gets_handler_exceptions(make_manager, recorder, capfd):
    caught = []

    def on(c, ev, d):
        if ev == MG_EV_OPEN and c.is_listening:
            raise Boom("in handler")

    rec = recorder(on)
    mgr = make_manager(rec, False, caught.append)  # third positional parameter
    mgr.listen("tcp://127.0.0.1:0")
    mgr.timer_add(1, lambda: (_ for _ in ()).throw(ValueError("in timer")), run_now=True)
    poll_until(mgr, lambda: len(caught) == 2)
    a, b = caught
    assert type(a) is Boom and str(a) == "in handler" and a.__traceback__ is not None
    assert type(b) is ValueError and str(b) == "in timer"
    assert "Traceback" not in capfd.readouterr().err


def test_error_handler_that_raises_gets_its_traceback_printed(make_manager, capfd):
    def eh(exc):
        raise RuntimeError(f"error handler failed on {exc}")

    def h(c, ev, d):
        if ev == MG_EV_OPEN:
            raise Boom("first")

    mgr = make_manager(h, error_handler=eh)
    mgr.listen("tcp://127.0.0.1:0")
    err = capfd.readouterr().err
    assert "Traceback (most recent call last):" in err
    assert "RuntimeError: error handler failed on first" in err
    # the loop goes on
    mgr.poll(0)


def test_error_handler_not_called_for_base_exceptions(make_manager):
    caught = []
    mgr = make_manager(error_handler=caught.append)

    def cb():
        raise Stop()

    mgr.timer_add(1, cb, run_now=True)
    with pytest.raises(Stop):
        poll_until(mgr, lambda: False, timeout=5)
    assert caught == []
    mgr.poll(0)  # still usable


def test_error_handler_base_exception_propagates(make_manager):
    def eh(exc):
        raise Stop()

    mgr = make_manager(error_handler=eh)
    mgr.timer_add(1, lambda: 1 / 0, run_now=True)
    with pytest.raises(Stop):
        poll_until(mgr, lambda: False, timeout=5)


def test_error_handler_keeps_the_500_for_unanswered_requests(make_manager):
    caught = []

    def h(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            raise Boom("no reply")

    mgr = make_manager(h, error_handler=caught.append)
    _, port = http_listen(mgr, None)

    def client():
        s = connect(port)
        s.sendall(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        data = recv_all(s)
        s.close()
        return data

    raw = run_client(mgr, client)
    assert raw.startswith(b"HTTP/1.1 500 ")
    assert [type(e) for e in caught] == [Boom]


def test_limits_stay_keyword_only():
    with pytest.raises(TypeError):
        Manager(None, False, None, 1024)
    mgr = Manager(None, False, None, max_recv_size=1024)
    mgr.close()


# -- context manager, connections, wakeup_id ---------------------------------

def test_context_manager_closes():
    closed = []

    def h(c, ev, d):
        if ev == MG_EV_CLOSE:
            closed.append(c)

    with Manager(h) as mgr:
        assert isinstance(mgr, Manager)
        lst = mgr.listen("tcp://127.0.0.1:0")
    assert closed == [lst]
    with pytest.raises(RuntimeError, match="Manager has been freed"):
        mgr.poll(0)

    with pytest.raises(Boom):
        with Manager() as mgr2:
            raise Boom()
    with pytest.raises(RuntimeError, match="Manager has been freed"):
        mgr2.poll(0)
    mgr3 = Manager()
    assert mgr3.__exit__(None, None, None) is False


def test_connections_snapshot(make_manager, recorder):
    rec = recorder()
    mgr = make_manager(rec, enable_wakeup=True)
    assert mgr.connections == ()
    lst, port = tcp_listen(mgr, rec)
    out = mgr.connect(f"tcp://127.0.0.1:{port}")
    poll_until(mgr, lambda: rec.has(MG_EV_ACCEPT) and rec.has(MG_EV_CONNECT))
    acc = rec.conns_with(MG_EV_ACCEPT)[0]
    conns = mgr.connections
    assert type(conns) is tuple
    assert {c.id for c in conns} == {lst.id, out.id, acc.id}
    assert all(any(c is x for c in conns) for x in (lst, out, acc))  # the same wrappers
    assert mgr.wakeup_id not in {c.id for c in conns}
    out.close()
    assert {c.id for c in mgr.connections} == {lst.id, acc.id}
    mgr.close()
    assert mgr.connections == ()


def test_wakeup_id(make_manager):
    assert make_manager().wakeup_id == 0
    mgr = make_manager(enable_wakeup=True)
    wid = mgr.wakeup_id
    assert type(wid) is int and wid > 0
    lst = mgr.listen("tcp://127.0.0.1:0")
    assert lst.id != wid


def test_wakeup_id_interrupts_a_blocking_poll(make_manager, recorder):
    rec = recorder()
    mgr = make_manager(rec, enable_wakeup=True)
    mgr.listen("tcp://127.0.0.1:0")
    done = threading.Event()

    def waker():
        while not done.is_set():
            assert mgr.wakeup(mgr.wakeup_id, b"") is True
            done.wait(0.01)

    th = threading.Thread(target=waker, daemon=True)
    th.start()
    try:
        mgr.poll(-1)  # returns only because of the wakeups
    finally:
        done.set()
        th.join()
    mgr.poll(0)
    assert not rec.has(MG_EV_WAKEUP)  # consumed silently


# -- run() -------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_run_stops_on_signal_and_closes(sig):
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    closed = []

    def h(c, ev, d):
        if ev == MG_EV_CLOSE:
            closed.append(c)

    mgr = Manager(h)
    lst = mgr.listen("tcp://127.0.0.1:0")
    ticks = []

    def tick():
        ticks.append(1)
        if len(ticks) == 3:
            os.kill(os.getpid(), sig)

    mgr.timer_add(5, tick, repeat=True)
    mgr.run(10)
    assert len(ticks) >= 3
    assert closed == [lst]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    with pytest.raises(RuntimeError, match="Manager has been freed"):
        mgr.poll(0)


def test_run_closes_on_exception():
    before = signal.getsignal(signal.SIGINT)
    mgr = Manager()

    def cb():
        raise Stop()

    mgr.timer_add(5, cb)
    with pytest.raises(Stop):
        mgr.run(poll_ms=10)
    assert signal.getsignal(signal.SIGINT) == before
    with pytest.raises(RuntimeError, match="Manager has been freed"):
        mgr.poll(0)


# -- http inference ----------------------------------------------------------

@pytest.mark.parametrize("scheme,http", [
    ("http", True), ("HTTP", True), ("ws", True), ("Ws", True),
    ("tcp", False), ("foo", False), ("", False),
])
def test_listen_infers_http_from_scheme(make_manager, recorder, scheme, http):
    rec = recorder()
    mgr = make_manager(rec)
    prefix = f"{scheme}://" if scheme else ""
    lst = mgr.listen(f"{prefix}127.0.0.1:0")
    s = connect(lst.local_addr[1])
    try:
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        poll_until(mgr, lambda: rec.has(MG_EV_READ) or rec.has(MG_EV_HTTP_MSG))
        assert rec.has(MG_EV_HTTP_MSG) is http
    finally:
        s.close()


def test_http_inference_rule():
    # the TLS schemes need tls_init to be exercised on a socket
    from pymongoose._manager import _infer_http
    for url in ("http://h", "HTTPS://h:1", "ws://", "wss://h/x", "WSS://h"):
        assert _infer_http(url, None) is True
        assert _infer_http(url, False) is False
    for url in ("tcp://h", "udp://h", "h:80", "", "http:/h", "mqtt://h", "https:h", "httpx://h"):
        assert _infer_http(url, None) is False
        assert _infer_http(url, True) is True


def test_explicit_http_overrides_inference(make_manager, recorder):
    rec = recorder()
    mgr = make_manager(rec)
    lst = mgr.listen("tcp://127.0.0.1:0", http=True)
    s = connect(lst.local_addr[1])
    try:
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        poll_until(mgr, lambda: rec.has(MG_EV_HTTP_MSG))
    finally:
        s.close()


def test_connect_infers_http_from_scheme(make_manager, recorder):
    def srv(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            c.reply(200, b"hi")

    mgr = make_manager()
    _, port = http_listen(mgr, srv)
    got = {}
    for scheme in ("http", "HTTP", "tcp"):
        cli = recorder(name=scheme)
        c = mgr.connect(f"{scheme}://127.0.0.1:{port}", cli)
        poll_until(mgr, lambda: cli.has(MG_EV_CONNECT))
        c.send(b"GET / HTTP/1.1\r\n\r\n")
        poll_until(mgr, lambda: cli.has(MG_EV_HTTP_MSG) or c.recv_len > 0)
        got[scheme] = cli.has(MG_EV_HTTP_MSG)
        c.close()
    assert got == {"http": True, "HTTP": True, "tcp": False}


# -- reply_json --------------------------------------------------------------

def json_reply_bytes(code, reason, body, header_lines):
    return (f"HTTP/1.1 {code} {reason}\r\n".encode() + header_lines + content_length_line(len(body))
            + b"\r\n" + body)


def exchange(make_manager, on_msg, n=1):
    def h(c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            on_msg(c)

    mgr = make_manager()
    _, port = http_listen(mgr, h)

    def client():
        s = connect(port)
        rd = ResponseReader(s)
        out = []
        for _ in range(n):
            s.sendall(b"GET / HTTP/1.1\r\n\r\n")
            out.append(rd.read().raw)
        s.close()
        return out

    return run_client(mgr, client)


def test_reply_json_default(make_manager):
    data = {"a": 1, "b": [True, None, "é"]}
    [raw] = exchange(make_manager, lambda c: c.reply_json(data))
    body = json.dumps(data).encode()
    assert raw == json_reply_bytes(200, "OK", body, b"Content-Type: application/json\r\n")


def test_reply_json_status_and_headers(make_manager):
    hdrs = {"X-A": "1", "content-type": "text/html", "X-B": "2", "CONTENT-TYPE": "x"}
    raws = exchange(make_manager, lambda c: c.reply_json([1, 2], 201, hdrs))
    raws += exchange(make_manager, lambda c: c.reply_json("s", status_code=404, headers={"X-C": "3"}))
    assert raws[0] == json_reply_bytes(
        201, "Created", b"[1, 2]", b"X-A: 1\r\nContent-Type: application/json\r\nX-B: 2\r\n")
    assert raws[1] == json_reply_bytes(
        404, "Not Found", b'"s"', b"X-C: 3\r\nContent-Type: application/json\r\n")
    assert hdrs == {"X-A": "1", "content-type": "text/html", "X-B": "2", "CONTENT-TYPE": "x"}


def test_reply_json_errors():
    c = Connection()
    with pytest.raises(TypeError):
        c.reply_json(object())
    with pytest.raises(RuntimeError, match="Connection has been closed"):
        c.reply_json({"a": 1})
    with pytest.raises(TypeError):
        c.reply_json()
