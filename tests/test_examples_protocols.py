"""The protocol examples (HTTP static/upload/streaming/SSE/client, WebSocket,
MQTT client, UDP, SNTP, DNS), each run as a subprocess and driven by a real
client or peer on loopback. Servers print their address (with the real
port) on the first stdout line and must exit with code 0 on SIGINT."""

import http.server
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest
import requests

from conftest import WAIT
from test_dns import HOST_IP, HOST_NAME, needs_hosts_name

websocket = pytest.importorskip("websocket")
mqtt = pytest.importorskip("paho.mqtt.client")

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


class Example:
    """A running example; ``first_line`` is its first line of output."""

    def __init__(self, name, *args, wait_line=True):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(EXAMPLES, name), *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            # a child of a non-interactive shell may inherit SIGINT ignored
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.first_line = self.proc.stdout.readline() if wait_line else None

    @property
    def port(self):
        m = re.search(r":(\d+)", self.first_line)
        assert m, f"no port in {self.first_line!r}; stderr: {self.proc.stderr.read()}"
        return int(m.group(1))

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def readline(self):
        line = self.proc.stdout.readline()
        assert line, f"example exited early; stderr: {self.proc.stderr.read()}"
        return line.rstrip("\n")

    def interrupt(self):
        """SIGINT, then: exit code 0 and no traceback."""
        self.proc.send_signal(signal.SIGINT)
        return self.finish()

    def finish(self, code=0):
        out, err = self.proc.communicate(timeout=20)
        assert self.proc.returncode == code, err
        assert "Traceback" not in err, err
        return out, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def example():
    started = []

    def start(name, *args, **kw):
        ex = Example(name, *args, **kw)
        started.append(ex)
        return ex

    yield start
    for ex in started:
        ex.kill()


def run(name, *args, timeout=60):
    """Runs a client example to completion."""
    return subprocess.run([sys.executable, os.path.join(EXAMPLES, name), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


# --------------------------------------------------------------------------
# HTTP: static files, upload, chunked streaming, SSE, client
# --------------------------------------------------------------------------


def test_http_static(example, tmp_path):
    (tmp_path / "hello.txt").write_bytes(b"hello \x00 world\n")
    (tmp_path / "notes.md").write_text("# notes\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "index.html").write_text("<p>sub index</p>")
    ex = example("http_static.py", "--port", 0, "--dir", tmp_path)
    with requests.Session() as s:  # one keep-alive connection
        r = s.get(ex.base + "/hello.txt", timeout=WAIT)
        assert r.status_code == 200 and r.content == b"hello \x00 world\n"
        assert r.headers["Content-Type"].startswith("text/plain")
        assert r.headers["Cache-Control"] == "no-cache"
        assert s.get(ex.base + "/hello.txt", headers={"If-None-Match": r.headers["Etag"]},
                     timeout=WAIT).status_code == 304
        r = s.get(ex.base + "/hello.txt", headers={"Range": "bytes=6-"}, timeout=WAIT)
        assert r.status_code == 206 and r.content == b"\x00 world\n"
        assert s.get(ex.base + "/notes.md", timeout=WAIT).headers["Content-Type"] == "text/markdown"
        r = s.get(ex.base + "/", timeout=WAIT)  # a listing links the entries
        assert r.status_code == 200 and "hello.txt" in r.text and "sub" in r.text
        assert s.get(ex.base + "/sub/", timeout=WAIT).text == "<p>sub index</p>"
        assert s.get(ex.base + "/missing.txt", timeout=WAIT).status_code == 404
    # traversal, sent raw so that no client normalizes the path
    with socket.create_connection(("127.0.0.1", ex.port), timeout=WAIT) as sock:
        sock.sendall(b"GET /%2e%2e%2f%2e%2e%2fetc/passwd HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400 ")
    ex.interrupt()


def test_http_static_rejects_missing_dir(tmp_path):
    res = run("http_static.py", "--port", 0, "--dir", tmp_path / "nope")
    assert res.returncode == 2 and "not a directory" in res.stderr


def test_file_upload(example, tmp_path):
    updir = tmp_path / "up"
    ex = example("file_upload.py", "--port", 0, "--dir", updir)
    binary = bytes(range(256)) * 40 + b"\r\n--not-the-boundary\r\n\x00"
    r = requests.get(ex.base + "/", timeout=WAIT)
    assert r.status_code == 200 and 'enctype="multipart/form-data"' in r.text
    files = [("file", ("data.bin", binary, "application/octet-stream")),
             ("file", ("../../escape.txt", b"inside", "text/plain"))]
    r = requests.post(ex.base + "/upload", files=files, data={"note": "hi there"}, timeout=WAIT)
    assert r.status_code == 200, r.text
    assert f"saved data.bin ({len(binary)} bytes)" in r.text and "saved escape.txt (6 bytes)" in r.text
    assert "field note: hi there" in r.text
    assert sorted(os.listdir(updir)) == ["data.bin", "escape.txt"]
    assert (updir / "data.bin").read_bytes() == binary
    assert not (tmp_path / "escape.txt").exists()
    r = requests.get(ex.base + "/files/data.bin", timeout=WAIT)  # served back
    assert r.content == binary
    # a body that is not multipart
    assert requests.post(ex.base + "/upload", data=b"x=1", timeout=WAIT).status_code == 400
    ex.interrupt()


def test_file_upload_max_size(example, tmp_path):
    ex = example("file_upload.py", "--port", 0, "--dir", tmp_path, "--max-size", 1000)
    r = requests.post(ex.base + "/upload", files={"file": ("big", b"x" * 5000)}, timeout=WAIT)
    assert r.status_code == 413
    assert os.listdir(tmp_path) == []
    ex.interrupt()


class ChunkReader:
    """Reads one chunked HTTP response from a raw socket, chunk by chunk."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        assert data, "connection closed in the middle of a response"
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def head(self):
        lines = []
        while True:
            line = self.line()
            if not line:
                return lines
            lines.append(line.decode())

    def chunk(self):
        """The next chunk's data (b"" for the terminating chunk)."""
        size = int(self.line().split(b";")[0], 16)
        data = self.exact(size)
        assert self.exact(2) == b"\r\n"
        return data


def get_numbers(sock, reader, count):
    sock.sendall(f"GET /numbers?count={count} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    head = reader.head()
    assert head[0] == "HTTP/1.1 200 OK"
    assert "Transfer-Encoding: chunked" in head and not any(h.startswith("Content-Length") for h in head)
    chunks = []
    while True:
        data = reader.chunk()
        if not data:
            return chunks
        chunks.append(data)


def test_chunked_stream(example):
    ex = example("chunked_stream.py", "--port", 0)
    with socket.create_connection(("127.0.0.1", ex.port), timeout=WAIT) as sock:
        reader = ChunkReader(sock)
        count = 200000  # about 1.3 MB, far above the 64 KiB refill mark
        chunks = get_numbers(sock, reader, count)
        assert len(chunks) == count // 1000
        assert b"".join(chunks) == "".join(f"{i}\n" for i in range(1, count + 1)).encode()
        # keep-alive: the next response on the same connection
        assert get_numbers(sock, reader, 3) == [b"1\n2\n3\n"]
        assert get_numbers(sock, reader, 0) == []
    # a client that leaves in the middle of a stream does not disturb the server
    with socket.create_connection(("127.0.0.1", ex.port), timeout=WAIT) as sock:
        sock.sendall(b"GET /numbers?count=10000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        reader = ChunkReader(sock)
        reader.head()
        assert reader.chunk().startswith(b"1\n2\n")
    r = requests.get(ex.base + "/numbers?count=5", timeout=WAIT)
    assert r.text == "1\n2\n3\n4\n5\n"
    assert requests.get(ex.base + "/numbers?count=x", timeout=WAIT).status_code == 400
    assert requests.get(ex.base + "/other", timeout=WAIT).status_code == 404
    ex.interrupt()


def read_sse_events(resp, n):
    """The first n events of a streaming SSE response, as (type, data)."""
    events, fields = [], {}
    for line in resp.iter_lines(decode_unicode=True):
        if line:
            key, _, value = line.partition(": ")
            fields[key] = value
        elif fields:
            events.append((fields.get("event"), fields.get("data")))
            fields = {}
            if len(events) == n:
                return events
    pytest.fail("SSE stream ended early")


def test_sse(example):
    ex = example("sse.py", "--port", 0, "--interval", 20)
    assert "EventSource" in requests.get(ex.base + "/", timeout=WAIT).text
    # a first subscriber that leaves early
    with requests.get(ex.base + "/events", stream=True, timeout=WAIT) as r:
        assert r.headers["Content-Type"] == "text/event-stream"
        read_sse_events(r, 1)
    with requests.get(ex.base + "/events", stream=True, timeout=WAIT) as r:
        events = read_sse_events(r, 3)
    assert [e[0] for e in events] == ["tick"] * 3
    ns = [json.loads(data)["n"] for _, data in events]
    assert ns == list(range(ns[0], ns[0] + 3))
    ex.interrupt()


class QuietHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802
        if self.path.startswith("/chunked"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"first,", b"second"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        body = json.dumps({"path": self.path, "host": self.headers["Host"]}).encode()
        self.send_response(404 if self.path == "/missing" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Test", "yes")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()
    thread.join()


def test_http_client(http_server):
    res = run("http_client.py", "--url", f"http://127.0.0.1:{http_server}/api/x?a=1&b=2")
    assert res.returncode == 0, res.stderr
    status, blank, body = res.stdout.split("\n", 2)
    assert (status, blank) == ("status 200", "")
    assert json.loads(body) == {"path": "/api/x?a=1&b=2", "host": f"127.0.0.1:{http_server}"}

    res = run("http_client.py", "--url", f"http://localhost:{http_server}/missing", "-i")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("status 404\n") and "X-Test: yes\n" in res.stdout

    res = run("http_client.py", "--url", f"http://127.0.0.1:{http_server}/chunked")
    assert res.returncode == 0 and res.stdout == "status 200\n\nfirst,second"


def test_http_client_against_example_server(example, tmp_path):
    (tmp_path / "a.txt").write_bytes(b"from the static example")
    ex = example("http_static.py", "--port", 0, "--dir", tmp_path)
    res = run("http_client.py", "--url", f"{ex.base}/a.txt")
    assert res.returncode == 0 and res.stdout == "status 200\n\nfrom the static example"
    ex.interrupt()


def test_http_client_failures():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    try:
        res = run("http_client.py", "--url", f"http://127.0.0.1:{s.getsockname()[1]}/")
    finally:
        s.close()
    assert res.returncode == 1 and "error" in res.stderr and res.stdout == ""
    res = run("http_client.py", "--url", "http://nonexistent.invalid/")
    assert res.returncode == 1 and "DNS" in res.stderr
    res = run("http_client.py", "--url", "ftp://127.0.0.1/")
    assert res.returncode == 2


# --------------------------------------------------------------------------
# WebSocket
# --------------------------------------------------------------------------


def test_ws_echo(example):
    ex = example("ws_echo.py", "--port", 0)
    assert "new WebSocket" in requests.get(ex.base + "/", timeout=WAIT).text
    ws = websocket.create_connection(f"ws://127.0.0.1:{ex.port}/ws", timeout=WAIT)
    try:
        for text in ("hello", "é ünïcode", "x" * 70000):
            ws.send(text)
            assert ws.recv() == text
        ws.send_binary(b"\x00\x01\xff")
        opcode, data = ws.recv_data()
        assert (opcode, data) == (websocket.ABNF.OPCODE_BINARY, b"\x00\x01\xff")
        ws.ping(b"are you there")
        opcode, data = ws.recv_data(control_frame=True)
        assert (opcode, data) == (websocket.ABNF.OPCODE_PONG, b"are you there")
    finally:
        ws.close()
    assert requests.get(ex.base + "/ws", timeout=WAIT).status_code == 426  # no upgrade key
    ex.interrupt()


def test_ws_broadcast(example):
    ex = example("ws_broadcast.py", "--port", 0, "--interval", 20)
    url = f"ws://127.0.0.1:{ex.port}/ws"
    a = websocket.create_connection(url, timeout=WAIT)
    b = websocket.create_connection(url, timeout=WAIT)
    try:
        # a tick sent while both were connected...
        while True:
            msg = json.loads(a.recv())
            if msg.get("clients") == 2:
                tick = msg["tick"]
                break
        # ...reached b too (b gets every tick from its first on, in order)
        while True:
            msg = json.loads(b.recv())
            if msg["tick"] >= tick:
                assert msg == {"tick": tick, "clients": 2}
                break
        a.send("hi from a")
        for ws in (a, b):
            while True:
                msg = json.loads(ws.recv())
                if "text" in msg:
                    assert msg["text"] == "hi from a"
                    break
        a.close()
        # b keeps receiving, now alone
        while json.loads(b.recv()).get("clients") != 1:
            pass
    finally:
        a.close()
        b.close()
    ex.interrupt()


# --------------------------------------------------------------------------
# MQTT client against the example broker and paho-mqtt
# --------------------------------------------------------------------------


class Paho:
    def __init__(self, port):
        try:
            self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        except AttributeError:  # paho-mqtt 1.x
            self.c = mqtt.Client(protocol=mqtt.MQTTv311)
        self.messages = []
        self.subscribed = threading.Event()
        self.got = threading.Condition()
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def _on_message(self, client, userdata, msg):
        with self.got:
            self.messages.append((msg.topic, msg.payload))
            self.got.notify_all()

    def wait_messages(self, n):
        with self.got:
            assert self.got.wait_for(lambda: len(self.messages) >= n, WAIT), self.messages
        return self.messages

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def broker(example):
    return example("mqtt_broker.py", "--port", 0)


def test_mqtt_client_receives(example, broker):
    url = f"mqtt://127.0.0.1:{broker.port}"
    cli = example("mqtt_client.py", "--url", url, "--topic", "demo/+/temp", "--count", 2)
    assert cli.first_line == f"connected to {url}\n"
    assert cli.readline() == "subscribed to demo/+/temp"
    pub = Paho(broker.port)
    try:
        pub.c.publish("demo/kitchen/temp", "21.5", qos=1).wait_for_publish(WAIT)
        pub.c.publish("demo/kitchen/humidity", "40", qos=0).wait_for_publish(WAIT)  # filtered out
        pub.c.publish("demo/attic/temp", "é", qos=0).wait_for_publish(WAIT)
    finally:
        pub.close()
    out, _ = cli.finish(0)  # exits by itself after --count messages
    assert out.splitlines() == ["demo/kitchen/temp: 21.5", "demo/attic/temp: é"]
    broker.interrupt()


def test_mqtt_client_publishes_and_stops_on_sigint(example, broker):
    url = f"mqtt://127.0.0.1:{broker.port}"
    sub = Paho(broker.port)
    try:
        sub.c.subscribe("chat/#", qos=1)
        assert sub.subscribed.wait(WAIT)
        cli = example("mqtt_client.py", "--url", url, "--topic", "chat/#", "--publish", "hello",
                      "--pub-topic", "chat/room1")
        assert cli.readline() == "subscribed to chat/#"
        assert sub.wait_messages(1) == [("chat/room1", b"hello")]
        assert cli.readline() == "chat/room1: hello"  # its own message comes back
        cli.interrupt()
    finally:
        sub.close()
    broker.interrupt()


def test_mqtt_client_without_broker():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    try:
        res = run("mqtt_client.py", "--url", f"mqtt://127.0.0.1:{s.getsockname()[1]}")
    finally:
        s.close()
    assert res.returncode == 1 and "error" in res.stderr


# --------------------------------------------------------------------------
# UDP, SNTP, DNS
# --------------------------------------------------------------------------


def udp_roundtrip(sock, port, payload):
    """Sends payload until its echo comes back (UDP may drop datagrams)."""
    sock.settimeout(0.5)
    for _ in range(40):
        sock.sendto(payload, ("127.0.0.1", port))
        try:
            while True:
                data, addr = sock.recvfrom(65536)
                assert addr == ("127.0.0.1", port)
                if data == payload:
                    return
        except socket.timeout:
            continue  # lost (only while the listener is being replaced): retransmit
    pytest.fail(f"no echo of {payload[:20]!r}")


def test_udp_echo(example):
    ex = example("udp_echo.py", "--port", 0, "--recycle", 3000)
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        udp_roundtrip(a, ex.port, b"hello")
        udp_roundtrip(b, ex.port, b"from b")
        udp_roundtrip(a, ex.port, b"\x00binary\xff")
        # well past --recycle: the listener is replaced several times
        for i in range(30):
            udp_roundtrip((a, b)[i % 2], ex.port, b"%d:" % i + os.urandom(400))
        udp_roundtrip(a, ex.port, b"x" * 60000)
    finally:
        a.close()
        b.close()
    ex.interrupt()


def test_udp_echo_senders_interleaved(example):
    """Datagrams of two senders arriving together: each gets its own echo
    back (one MG_EV_READ per datagram, replies to its sender)."""
    ex = example("udp_echo.py", "--port", 0)
    peers = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    try:
        for p in peers:
            p.settimeout(WAIT)
        for i in range(20):
            for n, p in enumerate(peers):
                p.sendto(b"%d-%d" % (n, i), ("127.0.0.1", ex.port))
        for n, p in enumerate(peers):
            got = [p.recvfrom(100)[0] for _ in range(20)]
            assert got == [b"%d-%d" % (n, i) for i in range(20)]
    finally:
        for p in peers:
            p.close()
    ex.interrupt()


NTP_DELTA = 2208988800
OFFSET = 86400.0 * 2 + 7.25  # the test server's clock runs this far ahead


class SntpServer(threading.Thread):
    """A minimal SNTP server on loopback (version 4, stratum 2)."""

    def __init__(self, answer=True):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        self.got_request = threading.Event()
        self.stop = threading.Event()
        self.start()

    @staticmethod
    def stamp(t):
        return struct.pack(">II", int(t) + NTP_DELTA, int((t % 1) * (1 << 32)))

    def run(self):
        while not self.stop.is_set():
            try:
                req, addr = self.sock.recvfrom(1024)
            except socket.timeout:
                continue
            self.got_request.set()
            if self.answer and len(req) >= 48:
                now = self.stamp(time.time() + OFFSET)
                head = bytes([(4 << 3) | 4, 2, 6, 0xEC]) + bytes(12)
                self.sock.sendto(head + now + req[40:48] + now + now, addr)

    def close(self):
        self.stop.set()
        self.join()
        self.sock.close()


def test_sntp_client():
    srv = SntpServer()
    try:
        res = run("sntp_client.py", "--url", f"udp://127.0.0.1:{srv.port}")
    finally:
        srv.close()
    assert res.returncode == 0, res.stderr
    m = re.fullmatch(r"(\S+) \((\d+) ms since the epoch; the local clock is ([-+][\d.]+) s off\)\n",
                     res.stdout)
    assert m, res.stdout
    ms = int(m.group(2))
    # the time is the server's: two days ahead (the tolerance only absorbs slow machines)
    assert abs(ms / 1000 - OFFSET - time.time()) < 60
    assert abs(float(m.group(3)) - OFFSET) < 60
    assert m.group(1).endswith("+00:00")


def test_sntp_client_without_answer():
    srv = SntpServer(answer=False)  # the engine gives up after 3 s
    try:
        res = run("sntp_client.py", "--url", f"udp://127.0.0.1:{srv.port}")
    finally:
        srv.close()
    assert res.returncode == 1 and "no valid answer" in res.stderr and res.stdout == ""


def test_dns_client_localhost():
    res = run("dns_client.py", "--host", "localhost")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "localhost -> 127.0.0.1\n"


@needs_hosts_name
def test_dns_client_hosts_name():
    res = run("dns_client.py", "--host", HOST_NAME)  # looked up off the poll thread
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"{HOST_NAME} -> {HOST_IP}\n"


def test_dns_client_unknown_name():
    res = run("dns_client.py", "--host", "nonexistent.invalid", timeout=120)
    assert res.returncode == 1 and "DNS" in res.stderr and res.stdout == ""


# --------------------------------------------------------------------------
# Ctrl+C while a client waits
# --------------------------------------------------------------------------


def test_http_client_exits_cleanly_on_sigint():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts, never answers
    silent.settimeout(WAIT)
    ex = Example("http_client.py", "--url", f"http://127.0.0.1:{silent.getsockname()[1]}/", wait_line=False)
    try:
        peer, _ = silent.accept()
        with peer:
            assert peer.recv(1000).startswith(b"GET / HTTP/1.1\r\n")  # now it waits for an answer
            out, _ = ex.interrupt()
        assert out == ""
    finally:
        ex.kill()
        silent.close()


def test_sntp_client_exits_cleanly_on_sigint():
    silent = SntpServer(answer=False)
    ex = Example("sntp_client.py", "--url", f"udp://127.0.0.1:{silent.port}", wait_line=False)
    try:
        assert silent.got_request.wait(WAIT)  # now it waits for an answer
        out, _ = ex.interrupt()
        assert out == ""
    finally:
        ex.kill()
        silent.close()
