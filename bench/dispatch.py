"""Dispatch benchmark: ns per MG_EV_POLL delivered to Python, 1,000 idle connections.

Usage: ``python bench/dispatch.py MODULE [--conns N] [--polls N] [--runs N]``
where MODULE is ``pymongoose`` or ``cymongoose``. Prints one JSON object on stdout.

One Manager listens on 127.0.0.1; the same process opens N idle client sockets and
polls until all are accepted. Then ``manager.poll(0)`` is timed with a handler that only
counts MG_EV_POLL, so the figure is the per-event cost of the engine's dispatch loop plus
the Go/C to Python crossing (the handler body is a compare and an increment).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import resource
import socket
import statistics
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType


def raise_nofile(needed: int) -> None:
    """Raise the soft RLIMIT_NOFILE to the hard limit; fail early if still too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and soft < needed:
        sys.exit(f"RLIMIT_NOFILE is {soft}, need at least {needed}")


def dist_version(name: str) -> str:
    """Installed distribution version, or '?'."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def run(mod: ModuleType, conns: int, polls: int, runs: int) -> dict[str, object]:
    """Open ``conns`` idle connections, then time ``runs`` batches of ``polls`` poll(0) calls."""
    poll_ev, accept_ev = mod.MG_EV_POLL, mod.MG_EV_ACCEPT
    n_poll = 0
    n_accept = 0

    def handler(conn: object, ev: int, data: object) -> None:
        nonlocal n_poll, n_accept
        if ev == poll_ev:
            n_poll += 1
        elif ev == accept_ev:
            n_accept += 1

    mgr = mod.Manager(handler)
    listener = mgr.listen("tcp://127.0.0.1:0")
    port = listener.local_addr[1]

    # Connect in batches no larger than a typical listen backlog, so no SYN is dropped.
    clients: list[socket.socket] = []
    deadline = time.monotonic() + 60
    while len(clients) < conns:
        for _ in range(min(64, conns - len(clients))):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            clients.append(s)
        while n_accept < len(clients):
            mgr.poll(1)
            if time.monotonic() > deadline:
                sys.exit(f"only {n_accept} of {len(clients)} connections accepted")

    for _ in range(max(polls // 4, 10)):  # warm-up
        mgr.poll(0)

    results: list[float] = []
    per_call = 0
    for _ in range(runs):
        gc.collect()
        n_poll = 0
        t0 = time.perf_counter_ns()
        for _ in range(polls):
            mgr.poll(0)
        elapsed = time.perf_counter_ns() - t0
        per_call = n_poll // polls
        results.append(elapsed / n_poll)

    mgr.close()
    for s in clients:
        s.close()
    return {
        "connections": conns,
        "poll_events_per_call": per_call,
        "polls_per_run": polls,
        "ns_per_poll_event_best": min(results),
        "ns_per_poll_event_median": statistics.median(results),
        "runs_ns": [round(r, 1) for r in results],
    }


def main() -> None:
    """Parse arguments, run, print JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("module", choices=["pymongoose", "cymongoose"])
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--polls", type=int, default=500, help="poll(0) calls per run")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    raise_nofile(2 * args.conns + 64)
    mod = importlib.import_module(args.module)
    out: dict[str, object] = {"impl": args.module, "version": dist_version(args.module)}
    out.update(run(mod, args.conns, args.polls, args.runs))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
