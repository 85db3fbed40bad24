"""10,000 concurrent idle connections are held with bounded memory (issue 9,
"Slow and greedy peers").

An idle connection must not cost a receive or send buffer: the bound below
is 4 KiB of resident memory per connection (an idle HTTP connection measures
about 1.9 KiB here, most of it the HTTP parser state; one 16 KiB buffer per
connection would be 160 MB and fail), and holding them
through hundreds of polls (millions of MG_EV_POLL deliveries) must not grow
the process. The client sockets live in a subprocess so that both ends fit
in the descriptor limit."""

import gc
import resource
import subprocess
import sys
import textwrap

import pytest

from pymongoose import MG_EV_ACCEPT, MG_EV_CLOSE, MG_EV_POLL, Manager

from conftest import poll_until

N = 10_000
BATCH = 100  # below the listen backlog: no SYN is ever dropped
PER_CONN_BOUND = 4096

CLIENT = textwrap.dedent(
    """
    import resource, socket, sys
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port, n, batch = map(int, sys.argv[1:])
    socks = []
    while len(socks) < n:
        for _ in range(min(batch, n - len(socks))):
            socks.append(socket.create_connection(("127.0.0.1", port)))
        print(len(socks), flush=True)
        if sys.stdin.readline().strip() != "more":
            break
    sys.stdin.readline()  # "close": leave all at once
    for s in socks:
        s.close()
    """
)


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < N + 1000:
        pytest.fail(f"RLIMIT_NOFILE hard limit {hard} is below {N + 1000}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_10000_idle_connections_bounded_rss(nofile):
    counts = {"accept": 0, "close": 0, "poll": 0}

    def handler(conn, ev, data):
        if ev == MG_EV_POLL:
            counts["poll"] += 1
        elif ev == MG_EV_ACCEPT:
            counts["accept"] += 1
        elif ev == MG_EV_CLOSE:
            counts["close"] += 1

    mgr = Manager(handler)
    lst = mgr.listen("http://127.0.0.1:0", http=True)
    port = lst.local_addr[1]
    for _ in range(20):
        mgr.poll(0)
    gc.collect()
    rss0 = rss_bytes()

    client = subprocess.Popen([sys.executable, "-c", CLIENT, str(port), str(N), str(BATCH)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        opened = 0
        while opened < N:
            opened = int(client.stdout.readline())
            poll_until(mgr, lambda: counts["accept"] >= opened, what=f"{opened} accepted", step=1)
            client.stdin.write("more\n" if opened < N else "done\n")
            client.stdin.flush()
        assert counts["accept"] == N
        assert len(mgr.connections) == N + 1
        for _ in range(10):
            mgr.poll(0)
        gc.collect()
        rss1 = rss_bytes()
        per_conn = (rss1 - rss0) / N
        assert per_conn <= PER_CONN_BOUND, f"{per_conn:.0f} B resident per idle connection"

        # Held idle through 200 polls: 2 million MG_EV_POLL, no growth.
        counts["poll"] = 0
        for _ in range(200):
            mgr.poll(0)
        assert counts["poll"] >= 200 * N
        gc.collect()
        rss2 = rss_bytes()
        assert rss2 - rss1 <= 2 * 1024 * 1024, f"grew {rss2 - rss1} B while idle"

        client.stdin.write("close\n")
        client.stdin.flush()
        poll_until(mgr, lambda: counts["close"] >= N, what="all closed", step=5, timeout=60)
        assert len(mgr.connections) == 1  # the listener
    finally:
        client.kill()
        client.wait()
        mgr.close()
