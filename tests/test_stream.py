"""Streaming responses: http_chunk and http_sse (docs/api.md 5.8) read
incrementally by clients: the first piece arrives before the stream ends."""

import threading

import pytest
import requests

from pymongoose import MG_EV_HTTP_MSG, MG_EV_POLL, Connection

from conftest import Client, connect, http_listen, poll_until

SSE_HEADERS = {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked", "Cache-Control": "no-cache"}


class Streamer:
    """Server that starts a chunked response on each request and sends the
    rest only when the test says so (after the client saw the first part)."""

    def __init__(self, mgr, first, headers=None):
        self.first = first
        self.headers = headers or {"Transfer-Encoding": "chunked"}
        self.conns = []
        self.events = []
        _, self.port = http_listen(mgr, self)

    def __call__(self, c, ev, d):
        if ev == MG_EV_HTTP_MSG:
            if isinstance(self.headers, bytes):
                c.send(self.headers)  # raw head: the response stays in progress
            else:
                c.reply(200, b"", self.headers)  # reply() ends the response (7.4)
            self.first(c)
            self.conns.append(c)
        if not c.is_listening and ev != MG_EV_POLL:
            self.events.append(ev)


def test_chunks_arrive_incrementally_requests(make_manager):
    mgr = make_manager()
    srv = Streamer(mgr, lambda c: c.http_chunk("first piece"))
    got_first = threading.Event()

    def client():
        parts = []
        with requests.get(f"http://127.0.0.1:{srv.port}/", stream=True) as r:
            assert r.headers["Transfer-Encoding"] == "chunked"
            for chunk in r.raw.read_chunked(decode_content=False):
                parts.append(chunk)
                got_first.set()
        return parts

    cl = Client(client)
    poll_until(mgr, got_first.is_set, what="first chunk at the client")
    assert not cl.done  # the stream has not ended yet
    (c,) = srv.conns
    c.http_chunk(b"second")
    c.http_chunk(b"\x00third\xff")
    c.http_chunk(b"")
    poll_until(mgr, lambda: cl.done)
    assert cl.result() == [b"first piece", b"second", b"\x00third\xff"]


def test_sse_events_arrive_before_the_stream_ends(make_manager):
    mgr = make_manager()
    srv = Streamer(mgr, lambda c: c.http_sse("greeting", "hello"), SSE_HEADERS)
    seen = []
    got_first = threading.Event()

    def client():
        with requests.get(f"http://127.0.0.1:{srv.port}/events", stream=True) as r:
            assert r.headers["Content-Type"] == "text/event-stream"
            for line in r.iter_lines(chunk_size=1):
                seen.append(line.decode())
                if line == b"data: hello":
                    got_first.set()
        return seen

    cl = Client(client)
    poll_until(mgr, got_first.is_set, what="first event at the client")
    assert not cl.done
    (c,) = srv.conns
    for i in range(3):
        c.http_sse("tick", f"n={i}")
    c.http_sse("multi", "a\nb")
    c.http_chunk("")
    poll_until(mgr, lambda: cl.done)
    lines = [x for x in cl.result() if x]
    assert lines == ["event: greeting", "data: hello",
                     "event: tick", "data: n=0", "event: tick", "data: n=1", "event: tick", "data: n=2",
                     "event: multi", "data: a", "b"]


def test_sse_wire_format_and_raw_socket_reader(make_manager):
    mgr = make_manager()
    srv = Streamer(mgr, lambda c: c.http_sse("a", "é"), b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    s = connect(srv.port)
    s.sendall(b"GET / HTTP/1.1\r\n\r\n")
    buf = bytearray()

    def have(b):
        return b in buf

    s.setblocking(False)

    def pump():
        try:
            buf.extend(s.recv(65536))
        except BlockingIOError:
            pass

    poll_until(mgr, lambda: have(b"\r\n\r\n") and buf.endswith(b"\r\n") and b"event" in buf, before_poll=pump)
    payload = "event: a\ndata: é\n\n".encode()
    assert buf.endswith(b"%x\r\n%s\r\n" % (len(payload), payload))
    (c,) = srv.conns
    # http_sse does not end the response: a pipelined request waits.
    s.sendall(b"GET /2 HTTP/1.1\r\n\r\n")
    n = len(buf)
    for _ in range(20):
        mgr.poll(5)
        pump()
    assert len(buf) == n and len(srv.conns) == 1
    c.http_chunk("")  # ends it: the second request is parsed now
    poll_until(mgr, lambda: len(srv.conns) == 2, before_poll=pump)
    s.close()


def test_http_sse_argument_types(make_manager):
    mgr = make_manager()
    c = mgr.connect("tcp://127.0.0.1:9", lambda *a: None)
    with pytest.raises(TypeError, match=r"Argument 'event_type' has incorrect type \(expected str, got bytes\)"):
        c.http_sse(b"x", "y")
    with pytest.raises(TypeError, match=r"Argument 'data' has incorrect type \(expected str, got int\)"):
        c.http_sse("x", 1)
    c.http_sse("x", "")
    assert c.send_data() == b"11\r\nevent: x\ndata: \n\n\r\n"
    c.close()
    with pytest.raises(TypeError):
        c.http_sse(None, "y")
    with pytest.raises(RuntimeError, match="Connection has been closed"):
        c.http_sse("x", "y")
    with pytest.raises(RuntimeError, match="Connection has been closed"):
        Connection().http_sse("x", "y")


def test_chunked_stream_to_our_own_client(make_manager):
    """Our client with http=True sees the raw stream grow in recv_data()
    (MG_EV_READ) and gets one HTTP_MSG with the whole de-chunked body at
    the end."""
    mgr = make_manager()
    srv = Streamer(mgr, lambda c: c.http_sse("one", "1"), SSE_HEADERS)
    reads, msgs = [], []

    def client(c, ev, d):
        if ev == 4:  # MG_EV_CONNECT
            c.send(b"GET / HTTP/1.1\r\n\r\n")
        elif ev == 7:  # MG_EV_READ
            reads.append(c.recv_data())
        elif ev == MG_EV_HTTP_MSG:
            msgs.append(d.body_bytes)

    cc = mgr.connect(f"http://127.0.0.1:{srv.port}", client, http=True)
    poll_until(mgr, lambda: any(b"data: 1" in r for r in reads))
    assert not msgs
    srv.conns[0].http_sse("two", "2")
    srv.conns[0].http_chunk("")
    poll_until(mgr, lambda: msgs)
    assert msgs == [b"event: one\ndata: 1\n\nevent: two\ndata: 2\n\n"]
    cc.close()
