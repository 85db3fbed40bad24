"""RSS benchmark: resident memory per idle connection at N (10,000) connections.

Usage: ``python bench/rss.py MODULE [--conns N]``; prints one JSON object on stdout.

This process is the server: one Manager listening on 127.0.0.1 whose handler is the C
builtin ``slice`` (it takes three arguments and does nothing: the accept phase delivers
MG_EV_POLL to every accepted connection on every poll, so a Python handler would make it
quadratic in Python calls). Accepted connections are counted from /proc/self/fd. A separate client process (``rss.py --client PORT N``) opens N idle loopback
connections and holds them. The figure is (VmRSS with N accepted connections - VmRSS
before the first connection) / N, VmRSS read from /proc/self/status after a few idle
polls and a gc.collect(). Kernel socket buffers are not in RSS, so this is the engine's
and the Python wrappers' own memory.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import resource
import socket
import subprocess
import sys
import time

BATCH = 64


def raise_nofile(needed: int) -> None:
    """Raise the soft RLIMIT_NOFILE to the hard limit; fail early if still too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and soft < needed:
        sys.exit(f"RLIMIT_NOFILE is {soft}, need at least {needed}")


def vm_rss_kib() -> int:
    """VmRSS of this process in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def open_fds() -> int:
    """Number of open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


def client(port: int, n: int) -> None:
    """Open ``n`` connections to ``port`` in batches of BATCH, each batch after the server
    says on stdin that it accepted the previous one (so the listen backlog never overflows
    and no SYN waits for a retransmission); print DONE and hold them until stdin closes."""
    raise_nofile(n + 64)
    socks: list[socket.socket] = []
    while len(socks) < n:
        for _ in range(min(BATCH, n - len(socks))):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=30))
        print(len(socks), flush=True)
        if not sys.stdin.readline():
            return
    print("DONE", flush=True)
    sys.stdin.read()
    for s in socks:
        s.close()


def server(module: str, n: int, settle: float) -> dict[str, object]:
    """Serve, let the client connect ``n`` times, return the RSS figures."""
    raise_nofile(n + 64)
    mod = importlib.import_module(module)
    mgr = mod.Manager(slice)
    listener = mgr.listen("tcp://127.0.0.1:0")
    port = listener.local_addr[1]
    for _ in range(20):
        mgr.poll(1)
    gc.collect()
    base = vm_rss_kib()
    fds = open_fds()

    cl = subprocess.Popen([sys.executable, __file__, "--client", str(port), str(n)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        assert cl.stdin is not None and cl.stdout is not None
        while True:
            line = cl.stdout.readline()
            if not line:
                sys.exit("client failed")
            if line.strip() == "DONE":
                break
            want = int(line)
            while open_fds() - fds < want:
                # The C peer accepts one connection per poll: poll a few times between
                # the (O(n)) descriptor counts; poll(1) only waits when nothing is ready.
                for _ in range(15):
                    mgr.poll(0)
                mgr.poll(1)
                if time.monotonic() > deadline:
                    sys.exit(f"only {open_fds() - fds} of {want} connections accepted")
            cl.stdin.write("\n")
            cl.stdin.flush()
        end = time.monotonic() + settle
        while time.monotonic() < end:
            mgr.poll(10)
        gc.collect()
        mgr.poll(0)
        after = vm_rss_kib()
    finally:
        assert cl.stdin is not None
        cl.stdin.close()
        cl.wait(60)
    mgr.close()
    return {"impl": module, "connections": n, "rss_base_kib": base, "rss_kib": after,
            "bytes_per_conn": (after - base) * 1024 / n}


def main() -> None:
    """Parse arguments, run, print JSON."""
    if len(sys.argv) == 4 and sys.argv[1] == "--client":
        client(int(sys.argv[2]), int(sys.argv[3]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("module", choices=["pymongoose", "cymongoose"])
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--settle", type=float, default=0.3, help="idle polling seconds before RSS")
    args = ap.parse_args()
    print(json.dumps(server(args.module, args.conns, args.settle)))


if __name__ == "__main__":
    main()
