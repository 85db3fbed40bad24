"""Each example runs as a subprocess on a free port and is driven by a real
client, then stopped with Ctrl+C (SIGINT) and must exit cleanly."""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


class Example:
    def __init__(self, name, *args):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(EXAMPLES, name), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            # a child of a non-interactive shell may inherit SIGINT ignored
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.first_line = self.proc.stdout.readline()

    @property
    def port(self):
        m = re.search(r":(\d+)", self.first_line)
        assert m, f"no port in {self.first_line!r}; stderr: {self.proc.stderr.read()}"
        return int(m.group(1))

    def interrupt(self, timeout=20):
        self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def example():
    started = []

    def start(name, *args):
        ex = Example(name, *args)
        started.append(ex)
        return ex

    yield start
    for ex in started:
        ex.kill()


def request(conn, method, path, body=None):
    conn.request(method, path, body=body)
    resp = conn.getresponse()
    return resp.status, resp.read()


def test_rest_api(example):
    ex = example("rest_api.py", "--port", "0")
    c = http.client.HTTPConnection("127.0.0.1", ex.port, timeout=10)
    assert request(c, "GET", "/api/items") == (200, b"[]")
    status, body = request(c, "POST", "/api/items", b'{"name": "apple"}')
    assert status == 201 and json.loads(body) == {"id": 1, "name": "apple"}
    assert json.loads(request(c, "GET", "/api/items/1")[1]) == {"id": 1, "name": "apple"}
    assert request(c, "POST", "/api/items", b"not json")[0] == 400
    assert request(c, "DELETE", "/api/items/1")[0] == 200
    assert request(c, "GET", "/api/items/1")[0] == 404
    c.close()
    code, _, err = ex.interrupt()
    assert code == 0, err


def test_graceful_shutdown_serves_503_then_drains(example):
    ex = example("graceful_shutdown.py", "--port", "0", "--grace", "10")
    c = http.client.HTTPConnection("127.0.0.1", ex.port, timeout=10)
    assert request(c, "GET", "/") == (200, b"OK")  # keep-alive connection stays open
    ex.proc.send_signal(signal.SIGINT)
    assert "shutting down" in ex.proc.stdout.readline()
    status, body = request(c, "GET", "/")
    assert (status, body) == (503, b"Server shutting down")
    assert c.sock is None or c.sock.recv(1) == b""  # drained: the server closed it
    out, err = ex.proc.communicate(timeout=20)
    assert ex.proc.returncode == 0, err
    assert "stopped" in out


def test_tcp_echo_sends_each_byte_once(example):
    ex = example("tcp_echo.py", "--port", "0")
    with socket.create_connection(("127.0.0.1", ex.port), timeout=10) as s:
        for word in (b"hello", b"world", b"\x00binary\xff"):
            s.sendall(word)
            got = b""
            while len(got) < len(word):
                got += s.recv(100)
            assert got == word
    code, _, err = ex.interrupt()
    assert code == 0, err


def test_multithreaded_replies_through_wakeup(example):
    ex = example("multithreaded.py", "--port", "0", "--workers", "4")
    fib = {15: 610, 18: 2584, 20: 6765, 22: 17711}

    def get(n):
        c = http.client.HTTPConnection("127.0.0.1", ex.port, timeout=30)
        try:
            return request(c, "GET", f"/?n={n}")
        finally:
            c.close()

    with ThreadPoolExecutor(4) as pool:
        results = dict(zip(fib, pool.map(get, fib)))
    for n, value in fib.items():
        assert results[n] == (200, f"{value}\n".encode())
    code, _, err = ex.interrupt()
    assert code == 0, err


def test_timers_tick_then_cancel():
    res = subprocess.run([sys.executable, os.path.join(EXAMPLES, "timers.py"), "--period", "20",
                          "--ticks", "3"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["tick 1", "tick 2", "tick 3", "stopped"]


def test_demo_server_python_m_pymongoose(tmp_path):
    (tmp_path / "hello.txt").write_bytes(b"hello \x00 world")
    proc = subprocess.Popen([sys.executable, "-m", "pymongoose", "--port", "0", "--dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = proc.stdout.readline()
        port = int(re.search(r"127\.0\.0\.1:(\d+)", line).group(1))
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        status, body = request(c, "GET", "/")
        assert status == 200 and b"pymongoose-go is running" in body
        status, body = request(c, "GET", "/api/status")
        assert status == 200 and json.loads(body)["server"] == "pymongoose-go"
        assert request(c, "GET", "/files/hello.txt") == (200, b"hello \x00 world")
        assert request(c, "GET", "/files/%2e%2e%2fetc/passwd")[0] == 400
        assert request(c, "GET", "/nope")[0] == 404
        c.close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
