"""listen(..., reuse_port=True): several processes share one port and the
kernel spreads the connections among them (docs/api.md section 12)."""

import os
import signal
import subprocess
import sys
import urllib.request

SERVER = """
import os, sys
from pymongoose import Manager, MG_EV_HTTP_MSG
def handler(conn, ev, data):
    if ev == MG_EV_HTTP_MSG:
        conn.reply(200, str(os.getpid()))
        conn.drain()
m = Manager(handler)
l = m.listen(f"http://127.0.0.1:{sys.argv[1]}", http=True, reuse_port=True)
print(l.local_addr[1], flush=True)
try:
    while True:
        m.poll(100)
except KeyboardInterrupt:
    m.close()
"""


def start(port):
    return subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdout=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def test_two_processes_share_a_port():
    first = start(0)
    procs = [first]
    try:
        port = int(first.stdout.readline())
        second = start(port)
        procs.append(second)
        assert int(second.stdout.readline()) == port
        pids = set()
        for _ in range(64):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
                pids.add(int(r.read()))
            if len(pids) == 2:
                break
        assert pids == {first.pid, second.pid}
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            assert p.wait(timeout=20) == 0


def test_without_reuse_port_the_port_is_taken():
    from pymongoose import Manager

    a, b = Manager(), Manager()
    try:
        port = a.listen("tcp://127.0.0.1:0").local_addr[1]
        try:
            b.listen(f"tcp://127.0.0.1:{port}")
        except RuntimeError as exc:
            assert str(exc) == f"Failed to listen on 'tcp://127.0.0.1:{port}'"
        else:
            raise AssertionError("a second listen on a bound port succeeded")
    finally:
        a.close()
        b.close()
