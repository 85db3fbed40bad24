"""WebSocket server (ws_upgrade, frames, ws_send) and client (ws_connect)."""

import asyncio
import base64
import hashlib
import os
import socket
import struct
import threading

import pytest
import websocket  # websocket-client
from websockets.sync.client import connect as wsl_connect
from websockets.sync.server import serve as wsl_serve

from pymongoose import (
    MG_EV_CLOSE,
    MG_EV_ERROR,
    MG_EV_HTTP_HDRS,
    MG_EV_HTTP_MSG,
    MG_EV_READ,
    MG_EV_WS_CTL,
    MG_EV_WS_MSG,
    MG_EV_WS_OPEN,
    WEBSOCKET_OP_BINARY,
    WEBSOCKET_OP_PING,
    WEBSOCKET_OP_TEXT,
    Connection,
    HttpMessage,
)

from conftest import (
    Client,
    connect,
    http_listen,
    poll_until,
    recv_all,
    recv_exact,
    reply_bytes,
    run_client,
)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
BIG = 16 * 1024 * 1024


def upgrade_request(key=KEY, extra=""):
    req = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    req += "Sec-WebSocket-Version: 13\r\n"
    if key is not None:
        req += f"Sec-WebSocket-Key: {key}\r\n"
    return (req + extra + "\r\n").encode()


def frame(b0, payload=b"", masked=True, mask=b"\x01\x02\x03\x04"):
    """A raw frame with first byte b0."""
    n = len(payload)
    mbit = 0x80 if masked else 0
    if n < 126:
        head = bytes([b0, mbit | n])
    elif n < 65536:
        head = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


def read_frame(sock):
    b0, b1 = recv_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(sock, 8))[0]
    assert not b1 & 0x80, "server frames are unmasked"
    return b0, recv_exact(sock, n)


def read_head(sock):
    buf = b""
    while not buf.endswith(b"\r\n\r\n"):
        c = sock.recv(1)
        assert c, f"EOF in head {buf!r}"
        buf += c
    return buf


def echo_handler(conn, ev, data):
    if ev == MG_EV_HTTP_MSG:
        conn.ws_upgrade(data)
    elif ev == MG_EV_WS_MSG:
        conn.ws_send(data.data, data.flags & 0x0F)


@pytest.fixture
def echo_server(make_manager, recorder):
    rec = recorder(echo_handler)
    mgr = make_manager(rec)
    _, port = http_listen(mgr, rec)
    return mgr, port, rec


# --------------------------------------------------------------------------
# Upgrade
# --------------------------------------------------------------------------


def test_upgrade_sequence_and_handshake_bytes(make_manager, recorder):
    seen = {}
    depth = [0]

    def on(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            depth[0] += 1
            assert not conn.is_websocket
            seen["ret"] = conn.ws_upgrade(data, {"X-A": 1, "X-B": "two words"})
            seen["after"] = (conn.is_websocket, conn.send_data())
            depth[0] -= 1
        elif ev == MG_EV_WS_OPEN:
            seen["nested"] = depth[0] == 1
            seen["ws"] = conn.is_websocket
            seen["msg"] = (type(data), data.uri, data.header("Sec-WebSocket-Key"), bool(data))
        elif ev == MG_EV_WS_MSG:
            seen["frame"] = (data.data, data.text, data.flags)

    rec = recorder(on)
    mgr = make_manager(rec)
    _, port = http_listen(mgr, rec)
    s = connect(port)
    s.sendall(upgrade_request(extra="Sec-WebSocket-Protocol: chat, superchat\r\n"))
    head = run_client(mgr, read_head, s)
    assert head == (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + ACCEPT.encode() + b"\r\nX-A: 1\r\nX-B: two words\r\n\r\n"
    )  # two subprotocols offered, none chosen: no Sec-WebSocket-Protocol (test_ws_subprotocol.py)
    assert seen["ret"] is None
    assert seen["nested"] and seen["ws"]
    assert seen["msg"] == (HttpMessage, "/ws", KEY, True)
    assert seen["after"][0] is True and seen["after"][1].startswith(b"HTTP/1.1 101")
    conn = rec.conns_with(MG_EV_WS_OPEN)[0]
    assert rec.seq(conn)[2:6] == [MG_EV_HTTP_HDRS, MG_EV_HTTP_MSG, MG_EV_WS_OPEN, MG_EV_READ]
    s.sendall(frame(0x81, b"hello"))
    poll_until(mgr, lambda: "frame" in seen)
    assert seen["frame"] == (b"hello", "hello", 0x81)
    assert conn.recv_len == 0
    s.close()


def test_accept_key_computation(make_manager, recorder):
    rec = recorder(echo_handler)
    mgr = make_manager(rec)
    _, port = http_listen(mgr, rec)
    key = base64.b64encode(os.urandom(16)).decode()
    s = connect(port)
    s.sendall(upgrade_request(key=key))
    head = run_client(mgr, read_head, s)
    want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    assert b"Sec-WebSocket-Accept: " + want + b"\r\n" in head
    assert b"Sec-WebSocket-Protocol" not in head
    s.close()


def test_upgrade_without_key_426(make_manager, recorder):
    rec = recorder(lambda c, ev, d: c.ws_upgrade(d, {"X-A": "1"}) if ev == MG_EV_HTTP_MSG else None)
    mgr = make_manager(rec)
    _, port = http_listen(mgr, rec)
    s = connect(port)
    s.sendall(upgrade_request(key=None))
    data = run_client(mgr, recv_all, s)
    assert data == reply_bytes(426, "Upgrade Required", b"WS upgrade expected\n", {})
    conn = rec.conns_with(MG_EV_HTTP_MSG)[0]
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, conn))
    assert not rec.has(MG_EV_WS_OPEN)
    s.close()


def test_upgrade_argument_validation(make_manager, recorder):
    errors = []

    def on(conn, ev, data):
        if ev != MG_EV_HTTP_MSG:
            return
        for bad in ({"X\r\nY": "1"}, {"X": "a\nb"}, {"X": "a\x00b"}):
            with pytest.raises(ValueError) as ei:
                conn.ws_upgrade(data, bad)
            errors.append(str(ei.value))
        with pytest.raises(TypeError):
            conn.ws_upgrade("not a message")
        with pytest.raises(TypeError):
            conn.ws_upgrade()
        with pytest.raises(ValueError, match="HttpMessage is not valid for this event"):
            conn.ws_upgrade(HttpMessage())
        assert conn.send_len == 0  # nothing queued by the failed calls
        conn.ws_upgrade(data)

    rec = recorder(on)
    mgr = make_manager(rec)
    _, port = http_listen(mgr, rec)
    s = connect(port)
    s.sendall(upgrade_request())
    head = run_client(mgr, read_head, s)
    assert head.startswith(b"HTTP/1.1 101 ")
    assert errors[0].startswith("Header name contains illegal character (CR, LF, or NUL): ")
    assert errors[1].startswith("Header value contains illegal character (CR, LF, or NUL): ")
    assert errors[2].startswith("Header value contains illegal character (CR, LF, or NUL): ")
    s.close()


def test_stale_message_and_closed_wrapper(make_manager, recorder):
    kept = []

    def on(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            kept.append(data)
            conn.close()

    rec = recorder(on)
    mgr = make_manager(rec)
    _, port = http_listen(mgr, rec)
    s = connect(port)
    s.sendall(upgrade_request())
    poll_until(mgr, lambda: kept)
    conn = rec.conns_with(MG_EV_HTTP_MSG)[0]
    with pytest.raises(ValueError, match="not valid"):
        conn.ws_upgrade(kept[0])
    with pytest.raises(RuntimeError, match="Connection has been closed"):
        conn.ws_send(b"x")
    with pytest.raises(TypeError):
        conn.ws_send(b"x", "1")
    with pytest.raises(TypeError):
        conn.ws_send(None)
    with pytest.raises(RuntimeError, match="Connection has been closed"):
        Connection().ws_send("x")
    s.close()


def test_ws_send_on_raw_connection(make_manager, recorder):
    """ws_send works on any connection; server frames are unmasked."""
    got = []

    def on(conn, ev, data):
        if ev == MG_EV_READ:
            assert conn.ws_send("hé") is None
            conn.ws_send(b"\x00\x01", WEBSOCKET_OP_BINARY)
            conn.ws_send(b"", WEBSOCKET_OP_PING)
            conn.ws_send(b"x" * 200, 0x1F)  # no validation: the byte is op | 0x80
            with pytest.raises(OverflowError):
                conn.ws_send(b"x", 1 << 40)
            got.append(conn.send_data())

    rec = recorder(on)
    mgr = make_manager(rec)
    lst = mgr.listen("tcp://127.0.0.1:0", rec)
    s = connect(lst.local_addr[1])
    s.sendall(b"go")
    poll_until(mgr, lambda: got)
    assert got[0] == (b"\x81\x03" + "hé".encode() + b"\x82\x02\x00\x01\x89\x00"
                      + b"\x9f\x7e\x00\xc8" + b"x" * 200)
    s.close()


# --------------------------------------------------------------------------
# Frames, with raw sockets
# --------------------------------------------------------------------------


def open_raw(mgr, port):
    s = connect(port)
    s.sendall(upgrade_request())
    assert run_client(mgr, read_head, s).startswith(b"HTTP/1.1 101 ")
    return s


@pytest.mark.parametrize("n", [0, 125, 126, 65535, 65536, BIG])
def test_payload_sizes_raw(echo_server, n):
    mgr, port, rec = echo_server
    s = open_raw(mgr, port)
    payload = (b"\x00ab\xff" * (n // 4 + 1))[:n]
    data = frame(0x82, payload, mask=b"\x00\x00\x00\x00") if n == BIG else frame(0x82, payload)

    def go():
        threading.Thread(target=s.sendall, args=(data,), daemon=True).start()
        return read_frame(s)

    b0, got = run_client(mgr, go, timeout=60)
    assert b0 == 0x82 and got == payload
    s.close()


def test_fragments_ping_pong_close_raw(make_manager, recorder):
    msgs = []

    def on(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            conn.ws_upgrade(data)
        elif ev == MG_EV_WS_MSG:
            msgs.append((data.data, data.flags))
        elif ev == MG_EV_WS_CTL:
            assert data is None

    rec = recorder(on)
    mgr = make_manager(rec)
    _, port = http_listen(mgr, rec)
    s = open_raw(mgr, port)
    conn = rec.conns_with(MG_EV_WS_OPEN)[0]
    s.sendall(frame(0x01, b"ab") + frame(0x89, b"p!") + frame(0x00, b"cd") + frame(0x80, b"ef")
              + frame(0x8A, b"unsolicited"))
    assert run_client(mgr, read_frame, s) == (0x8A, b"p!")
    poll_until(mgr, lambda: rec.count(MG_EV_WS_CTL, conn) == 4)
    assert msgs == [(b"abcdef", 0x01)]
    ws_evs = [e for e in rec.seq(conn) if e in (MG_EV_WS_MSG, MG_EV_WS_CTL)]
    assert ws_evs == [MG_EV_WS_CTL, MG_EV_WS_CTL, MG_EV_WS_CTL, MG_EV_WS_MSG, MG_EV_WS_CTL]
    s.sendall(frame(0x88, b"\x03\xe8bye"))
    assert run_client(mgr, read_frame, s) == (0x88, b"\x03\xe8bye")
    assert run_client(mgr, recv_all, s) == b""
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, conn))
    assert not rec.has(MG_EV_ERROR, conn)
    s.close()


@pytest.mark.parametrize("data,text", [
    (frame(0x83, b"x"), "unknown WS op 3"),
    (frame(0x8B, b"x"), "unknown WS op 11"),
    (frame(0x89, b"x" * 126), None),           # control frame over 125 bytes
    (frame(0x09, b"x"), None),                 # control frame without FIN
    (frame(0xC1, b"x"), None),                 # RSV1
    (frame(0xA1, b"x"), None),                 # RSV2
    (frame(0x81, b"x", masked=False), None),   # unmasked client frame
    (b"\x82\xff\x80\x00\x00\x00\x00\x00\x00\x01\x01\x02\x03\x04", None),  # 64-bit length, top bit set
    (frame(0x80, b"x"), None),                 # continuation without a message
    (frame(0x01, b"a") + frame(0x81, b"b"), None),  # new message inside a fragmented one
])
def test_malformed_frames_close(echo_server, data, text):
    mgr, port, rec = echo_server
    s = open_raw(mgr, port)
    conn = rec.conns_with(MG_EV_WS_OPEN)[0]
    s.sendall(data)
    assert run_client(mgr, recv_all, s) == b""
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, conn))
    errs = rec.data_of(MG_EV_ERROR, conn)
    assert len(errs) == 1 and isinstance(errs[0], str)
    if text is not None:
        assert errs[0] == text
    assert not rec.has(MG_EV_WS_MSG, conn)
    s.close()
    # The manager keeps serving.
    s2 = open_raw(mgr, port)
    s2.sendall(frame(0x81, b"still here"))
    assert run_client(mgr, read_frame, s2) == (0x81, b"still here")
    s2.close()


def test_max_message_size(make_manager, recorder):
    rec = recorder(echo_handler)
    mgr = make_manager(rec, max_message_size=1000)
    _, port = http_listen(mgr, rec)
    s = open_raw(mgr, port)
    s.sendall(frame(0x82, b"y" * 1000))
    assert run_client(mgr, read_frame, s) == (0x82, b"y" * 1000)
    s.sendall(frame(0x02, b"y" * 600) + frame(0x80, b"y" * 401))
    assert run_client(mgr, recv_all, s) == b""
    conn = rec.conns_with(MG_EV_WS_OPEN)[0]
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, conn))
    assert rec.data_of(MG_EV_ERROR, conn) == ["MG_MAX_RECV_SIZE"]
    s.close()


def test_drain_stops_ws_events(make_manager, recorder):
    def on(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            conn.ws_upgrade(data)
        elif ev == MG_EV_WS_MSG:
            conn.ws_send(b"last")
            conn.drain()

    rec = recorder(on)
    mgr = make_manager(rec)
    _, port = http_listen(mgr, rec)
    s = open_raw(mgr, port)
    s.sendall(frame(0x81, b"one") + frame(0x81, b"two") + frame(0x89, b"p"))
    assert run_client(mgr, recv_all, s) == b"\x81\x04last"
    conn = rec.conns_with(MG_EV_WS_OPEN)[0]
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, conn))
    assert rec.count(MG_EV_WS_MSG, conn) == 1
    assert not rec.has(MG_EV_WS_CTL, conn)
    s.close()


# --------------------------------------------------------------------------
# Interop: websocket-client and websockets
# --------------------------------------------------------------------------


def test_websocket_client_echo(echo_server):
    mgr, port, rec = echo_server
    big = os.urandom(BIG)

    def session():
        ws = websocket.create_connection(f"ws://127.0.0.1:{port}/echo", timeout=30)
        out = {}
        ws.send("héllo")
        out["text"] = ws.recv()
        ws.send_binary(b"\x00bin\x00\x00")
        out["bin"] = ws.recv()
        ws.send_binary(big)
        out["big"] = ws.recv() == big
        ws.send_frame(websocket.ABNF.create_frame("frag", websocket.ABNF.OPCODE_TEXT, 0))
        ws.send_frame(websocket.ABNF.create_frame("ment", websocket.ABNF.OPCODE_CONT, 0))
        ws.send_frame(websocket.ABNF.create_frame("ed", websocket.ABNF.OPCODE_CONT, 1))
        out["frag"] = ws.recv()
        ws.ping("are you there")
        op, data = ws.recv_data(control_frame=True)
        out["pong"] = (op, data)
        ws.send_close(status=4001, reason=b"done here")
        fr = ws.recv_frame()
        out["close"] = (fr.opcode, fr.data)
        out["eof"] = ws.sock.recv(1)
        ws.shutdown()
        return out

    out = run_client(mgr, session, timeout=60)
    assert out["text"] == "héllo"
    assert out["bin"] == b"\x00bin\x00\x00"
    assert out["big"]
    assert out["frag"] == "fragmented"
    assert out["pong"] == (websocket.ABNF.OPCODE_PONG, b"are you there")
    assert out["close"] == (websocket.ABNF.OPCODE_CLOSE, struct.pack("!H", 4001) + b"done here")
    assert out["eof"] == b""
    conn = rec.conns_with(MG_EV_WS_OPEN)[0]
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, conn))
    assert rec.data_of(MG_EV_WS_OPEN, conn)[0][2] == "/echo"


def test_websockets_library_echo(echo_server):
    mgr, port, rec = echo_server
    big = os.urandom(BIG)

    def session():
        out = {}
        with wsl_connect(f"ws://127.0.0.1:{port}/", max_size=None, open_timeout=30) as ws:
            ws.send("text ✓")
            out["text"] = ws.recv(timeout=30)
            ws.send(b"\x00\x01\x00")
            out["bin"] = ws.recv(timeout=30)
            ws.send(big)
            out["big"] = ws.recv(timeout=30) == big
            ws.send(iter(["a", "b", "c"]))  # one message in three frames
            out["frag"] = ws.recv(timeout=30)
            ws.send(iter([b"\x00", b"\x01"]))
            out["fragbin"] = ws.recv(timeout=30)
            out["pong"] = ws.ping(b"hi").wait(30)
            ws.close(code=4002, reason="bye now")
            out["close"] = (ws.close_code, ws.close_reason)
        return out

    out = run_client(mgr, session, timeout=60)
    assert out["text"] == "text ✓"
    assert out["bin"] == b"\x00\x01\x00"
    assert out["big"]
    assert out["frag"] == "abc"
    assert out["fragbin"] == b"\x00\x01"
    assert out["pong"]
    assert out["close"] == (4002, "bye now")
    conn = rec.conns_with(MG_EV_WS_OPEN)[0]
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, conn))


class WebsocketsServer:
    """A `websockets` echo server on a free loopback port, in a thread."""

    def __init__(self, handler=None):
        self.received = []

        def echo(ws):
            for msg in ws:
                self.received.append(msg)
                ws.send(msg)

        self.server = wsl_serve(handler or echo, "127.0.0.1", 0, max_size=None)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(10)


@pytest.fixture
def wsl_server():
    srv = WebsocketsServer()
    yield srv
    srv.stop()


def test_ws_connect_against_websockets_server(make_manager, recorder, wsl_server):
    big = os.urandom(BIG)
    got = []
    opened = []

    def on(conn, ev, data):
        if ev == MG_EV_WS_OPEN:
            opened.append((conn.is_websocket, data.status(), data.header("Upgrade"), type(data)))
            conn.ws_send("hello")
        elif ev == MG_EV_WS_MSG:
            got.append((data.flags, bytes(data.data)))
            if len(got) == 1:
                conn.ws_send(b"\x00\xff", WEBSOCKET_OP_BINARY)
            elif len(got) == 2:
                conn.ws_send(big, WEBSOCKET_OP_BINARY)
            elif len(got) == 3:
                conn.ws_send(b"\x03\xe8", 8)
                conn.drain()

    rec = recorder(on)
    mgr = make_manager()
    c = mgr.ws_connect(f"ws://127.0.0.1:{wsl_server.port}/chat?x=1", rec)
    assert isinstance(c, Connection) and c.is_client and not c.is_websocket
    assert c.send_data().startswith(b"GET /chat?x=1 HTTP/1.1\r\nUpgrade: websocket\r\nHost: 127.0.0.1\r\n"
                                    b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                                    b"Sec-WebSocket-Key: ")
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, c), timeout=60)
    assert opened == [(True, 101, "websocket", HttpMessage)]
    assert got[0] == (0x81, b"hello")
    assert got[1] == (0x82, b"\x00\xff")
    assert got[2][0] == 0x82 and got[2][1] == big
    assert wsl_server.received[:2] == ["hello", b"\x00\xff"]
    assert not rec.has(MG_EV_ERROR, c)


def test_ws_connect_ping_from_server(make_manager, recorder):
    """The server pings our client: the engine answers with a masked pong."""
    result = {}

    def handler(ws):
        result["pong"] = ws.ping(b"xyz").wait(10)
        ws.send("done")
        for _ in ws:
            pass

    srv = WebsocketsServer(handler)
    try:
        rec = recorder()
        mgr = make_manager()
        c = mgr.ws_connect(f"ws://127.0.0.1:{srv.port}", rec)
        poll_until(mgr, lambda: rec.has(MG_EV_WS_MSG, c))
        assert result["pong"]
        assert rec.has(MG_EV_WS_CTL, c)
        c.close()
    finally:
        srv.stop()


def one_shot_server(response):
    """Raw TCP server: reads a request head, answers `response`, waits for EOF."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)

    def run():
        s, _ = lst.accept()
        s.settimeout(10)
        read_head(s)
        s.sendall(response)
        try:
            s.recv(1)
        except OSError:
            pass
        s.close()
        lst.close()

    threading.Thread(target=run, daemon=True).start()
    return lst.getsockname()[1]


@pytest.mark.parametrize("response,text", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "ws handshake error"),
    (b"HTTP/1.1 404 Not Found\r\n\r\n", "ws handshake error"),
    (b"SSH-2.0-OpenSSH\x01\r\n\r\n", "not http"),
])
def test_ws_connect_handshake_errors(make_manager, recorder, response, text):
    rec = recorder()
    mgr = make_manager()
    port = one_shot_server(response)
    c = mgr.ws_connect(f"ws://127.0.0.1:{port}/", rec)
    poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, c))
    assert rec.data_of(MG_EV_ERROR, c) == [text]
    assert not rec.has(MG_EV_WS_OPEN, c)


def test_ws_connect_arguments(make_manager):
    mgr = make_manager()
    with pytest.raises(TypeError):
        mgr.ws_connect(b"ws://127.0.0.1:1")
    with pytest.raises(RuntimeError, match="Failed to create WebSocket connection to ''"):
        mgr.ws_connect("")
    mgr.close()
    with pytest.raises(RuntimeError):
        mgr.ws_connect("ws://127.0.0.1:1")


def test_ws_connect_to_own_server(make_manager, recorder):
    """Client and server engines in one Manager: frames from ws_connect are masked
    (the server rejects unmasked ones)."""
    got = []

    def client(conn, ev, data):
        if ev == MG_EV_WS_OPEN:
            conn.ws_send("ping?")
        elif ev == MG_EV_WS_MSG:
            got.append(data.text)

    rec = recorder(echo_handler)
    mgr = make_manager(rec)
    _, port = http_listen(mgr, rec)
    crec = recorder(client)
    c = mgr.ws_connect(f"ws://localhost:{port}/", crec)
    poll_until(mgr, lambda: got)
    assert got == ["ping?"]
    assert not rec.has(MG_EV_ERROR)
    c.close()


# --------------------------------------------------------------------------
# Broadcast
# --------------------------------------------------------------------------


def test_timer_broadcast_to_100_clients(make_manager, recorder):
    n = 100
    rec = recorder(echo_handler)
    mgr = make_manager(rec)
    _, port = http_listen(mgr, rec)

    def open_all():
        return [websocket.create_connection(f"ws://127.0.0.1:{port}/", timeout=30) for _ in range(n)]

    clients = run_client(mgr, open_all, timeout=60)
    poll_until(mgr, lambda: rec.count(MG_EV_WS_OPEN) == n)
    conns = rec.conns_with(MG_EV_WS_OPEN)

    def broadcast():
        for c in conns:
            c.ws_send("news")

    mgr.timer_add(10, broadcast)

    def read_all():
        return [ws.recv() for ws in clients]

    assert run_client(mgr, read_all, timeout=60) == ["news"] * n
    def close_all():
        for ws in clients:
            ws.close()  # waits for the echoed close frame

    run_client(mgr, close_all, timeout=60)
    poll_until(mgr, lambda: rec.count(MG_EV_CLOSE) >= n, timeout=30)


def test_upgrade_and_frames_in_one_packet_and_event_order(make_manager, recorder):
    """Frames right behind the upgrade request are parsed in the same read;
    WS events come before the MG_EV_READ of the read that carried them."""
    def on(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            conn.ws_upgrade(data)
        elif ev == MG_EV_WS_MSG and data.text == "boom":
            raise ValueError("handler failure is reported, the engine goes on")
        elif ev == MG_EV_WS_MSG:
            conn.ws_send(data.data)

    rec = recorder(on)
    mgr = make_manager(rec)
    _, port = http_listen(mgr, rec)
    s = connect(port)
    s.sendall(upgrade_request() + frame(0x81, b"boom") + frame(0x81, b"a"))
    assert run_client(mgr, read_head, s).startswith(b"HTTP/1.1 101 ")
    assert run_client(mgr, read_frame, s) == (0x81, b"a")
    conn = rec.conns_with(MG_EV_WS_OPEN)[0]
    seq = rec.seq(conn)
    i = seq.index(MG_EV_WS_OPEN)
    assert seq[i:i + 4] == [MG_EV_WS_OPEN, MG_EV_WS_MSG, MG_EV_WS_MSG, MG_EV_READ]
    assert conn.recv_len == 0
    s.sendall(frame(0x82, b"\x00"))
    assert run_client(mgr, read_frame, s) == (0x81, b"\x00")
    seq = rec.seq(conn)
    assert seq[-3:-1] == [MG_EV_WS_MSG, MG_EV_READ]
    s.close()


def test_ws_text_property_and_invalid_view(make_manager, recorder):
    kept = []

    def on(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            conn.ws_upgrade(data)
        elif ev == MG_EV_WS_MSG:
            kept.append((data, data.text, data.flags))

    rec = recorder(on)
    mgr = make_manager(rec)
    _, port = http_listen(mgr, rec)
    s = open_raw(mgr, port)
    s.sendall(frame(0x81, "ü\xff".encode("utf-8", "surrogateescape")))
    poll_until(mgr, lambda: kept)
    msg, text, flags = kept[0]
    assert text == "ü\xff" and flags == 0x81
    assert (msg.data, msg.text, msg.flags) == (b"", "", 0)
    s.close()


class AsyncioWebsocketsServer:
    """A `websockets` (asyncio API) echo server in a thread with its own loop."""

    def __init__(self):
        from websockets.asyncio.server import serve

        self.received = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def echo(ws):
            async for msg in ws:
                self.received.append(msg)
                await ws.send(msg)

        async def main():
            async with serve(echo, "127.0.0.1", 0, max_size=None) as server:
                self.port = server.sockets[0].getsockname()[1]
                self.stop = self.loop.create_future()
                ready.set()
                await self.stop

        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(main(),), daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def close(self):
        self.loop.call_soon_threadsafe(self.stop.set_result, None)
        self.thread.join(10)
        self.loop.close()


def test_ws_connect_against_asyncio_websockets_server(make_manager, recorder):
    srv = AsyncioWebsocketsServer()
    try:
        got = []

        def on(conn, ev, data):
            if ev == MG_EV_WS_OPEN:
                conn.ws_send("one")
                conn.ws_send(b"\x00two\x00", WEBSOCKET_OP_BINARY)
            elif ev == MG_EV_WS_MSG:
                got.append((data.flags, data.data))
                if len(got) == 2:
                    conn.ws_send(struct.pack("!H", 1000) + b"bye", 8)
            elif ev == MG_EV_WS_CTL:
                got.append("ctl")

        rec = recorder(on)
        mgr = make_manager()
        c = mgr.ws_connect(f"ws://127.0.0.1:{srv.port}/x", rec)
        # The server answers our close frame with its own and closes: the
        # engine echoes it (drain) and the connection ends.
        poll_until(mgr, lambda: rec.has(MG_EV_CLOSE, c), timeout=30)
        assert got == [(0x81, b"one"), (0x82, b"\x00two\x00"), "ctl"]
        assert srv.received == ["one", b"\x00two\x00"]
        assert not rec.has(MG_EV_ERROR, c)
    finally:
        srv.close()
