"""Compare this project's ASGI/WSGI servers with uvicorn, granian and gunicorn on the same apps.

Usage: ``python bench/servers.py [--only APP ...] [--server NAME ...] [--rounds N]
[--duration S] [--warmup S] [--no-pin] [--json FILE]``

Apps (bench/apps/, each answering a 27-byte JSON body): ``raw-asgi``, ``starlette``,
``raw-wsgi``, ``flask``. Each server runs one worker process, started by its command line
in SERVERS (the one place that says how a server is started) with the apps directory as
its working directory. Before it is measured, a server must answer one urllib request
with status 200 and the app's exact body; a server that fails gets no figure. Then
``wrk -t1 -c50`` (keep-alive) runs for a warm-up and a measured run; the figures are
wrk's requests/s and the server's CPU per request (utime+stime of the server's whole
process tree from /proc/PID/stat over the measured run, / requests wrk made). Servers
alternate (the order rotates every round) and each figure is the median of the rounds.
By default the server is pinned to CPU 1 and wrk to CPU 0 (``taskset``), so every
server gets one CPU whatever its number of threads, and wrk never competes with it.
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import importlib.metadata
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

from run import cpu_model, ensure_wrk, parse_wrk

BENCH = Path(__file__).resolve().parent
APPS_DIR = BENCH / "apps"
PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
WRK_CONNS = 50
OURS = "pymongoose"
Result = Dict[str, float]


class Server(NamedTuple):
    """How to start one server: the interfaces it serves and its argv template."""

    interfaces: Tuple[str, ...]
    # Placeholders: {py} this interpreter, {bench} this directory, {interface} asgi|wsgi,
    # {app} MODULE:ATTR (importable from the working directory bench/apps), {port}.
    argv: Tuple[str, ...]
    dists: Tuple[str, ...]  # distributions whose versions the report prints
    extra: Dict[str, Tuple[str, ...]] = {}  # interface -> arguments appended for it


# One worker each. Ours: the server command (`python -m pymongoose.asgi|wsgi`; ASGI
# on uvloop when installed, WSGI with 4 app threads, as gunicorn's). granian: its defaults for one worker (1 runtime thread, runtime mode
# auto, loop auto = uvloop here; blocking threads: 1 for ASGI, fixed; for WSGI
# backpressure/2 = 512, started on demand), which its README asks not to tune.
# gunicorn: the gthread worker with 4 threads. No access logs anywhere.
SERVERS: Dict[str, Server] = {
    OURS: Server(("asgi", "wsgi"), (
        "{py}", "-m", "pymongoose.{interface}", "{app}", "--host", "127.0.0.1", "--port", "{port}",
        "--log-level", "warning"), ("pymongoose", "uvloop"), {"wsgi": ("--threads", "4")}),
    # The same WSGI server with the app on the poll thread (`--threads 0`, for apps that never
    # block): a variant of ours, shown beside the figures, never counted as a peer.
    OURS + "-t0": Server(("wsgi",), (
        "{py}", "-m", "pymongoose.wsgi", "{app}", "--host", "127.0.0.1", "--port", "{port}",
        "--log-level", "warning", "--threads", "0"), ("pymongoose",)),
    "uvicorn": Server(("asgi",), (
        "{py}", "-m", "uvicorn", "--loop", "uvloop", "--http", "httptools",
        "--host", "127.0.0.1", "--port", "{port}", "--no-access-log", "--log-level", "warning",
        "{app}"), ("uvicorn", "uvloop", "httptools")),
    "granian": Server(("asgi", "wsgi"), (
        "{py}", "-m", "granian", "--interface", "{interface}", "--workers", "1",
        "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning", "{app}"),
        ("granian",)),
    "gunicorn": Server(("wsgi",), (
        "{py}", "-m", "gunicorn", "--worker-class", "gthread", "--workers", "1",
        "--threads", "4", "--bind", "127.0.0.1:{port}", "--log-level", "warning", "{app}"),
        ("gunicorn",)),
}


class App(NamedTuple):
    """One benchmarked app and the targets for ours / peer (peer -> minimum ratio)."""

    interface: str
    target: str  # MODULE:ATTR in bench/apps; the module's BODY is the expected body
    goals: Dict[str, float]
    dists: Tuple[str, ...]


APPS: Dict[str, App] = {
    "raw-asgi": App("asgi", "raw_asgi:app", {"granian": 1.0, "uvicorn": 1.5}, ()),
    "starlette": App("asgi", "starlette_app:app", {"granian": 1.0}, ("starlette",)),
    "raw-wsgi": App("wsgi", "raw_wsgi:app", {"granian": 1.0}, ()),
    "flask": App("wsgi", "flask_app:app", {"granian": 1.3}, ("flask",)),
}


def expected_body(app: App) -> bytes:
    """The exact body ``app`` must answer: its module's BODY."""
    if str(APPS_DIR) not in sys.path:
        sys.path.append(str(APPS_DIR))
    body = importlib.import_module(app.target.partition(":")[0]).BODY
    assert isinstance(body, bytes) and len(body) == 27, body
    return body


def version(dist: str) -> str:
    """Installed version of ``dist``, or 'missing'."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_stats() -> Dict[int, Tuple[int, int, int]]:
    """pid -> (ppid, utime+stime ticks, threads) for every process, from /proc/PID/stat."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        # fields[0] is field 3 of proc(5): ppid 4, utime 14, stime 15, num_threads 20
        out[int(name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[17]))
    return out


def tree(pid: int) -> Tuple[int, int, int]:
    """(CPU ticks, threads, processes) of ``pid`` and all its live descendants."""
    stats = proc_stats()
    children: Dict[int, List[int]] = {}
    for p, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(p)
    ticks = threads = procs = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        if p in stats:
            ticks += stats[p][1]
            threads += stats[p][2]
            procs += 1
        todo.extend(children.get(p, []))
    return ticks, threads, procs


def precheck(port: int, body: bytes, proc: "subprocess.Popen[bytes]", timeout: float) -> str:
    """'' once GET / answers 200 with exactly ``body``; else what went wrong.

    Retries while the port refuses connections (the server is starting), so this is
    also the readiness check.
    """
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/"
    while True:
        if proc.poll() is not None:
            return f"exited with status {proc.returncode} before answering"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                got = r.read()
                if r.status != 200 or got != body:
                    return f"answered {r.status} {got!r}, expected 200 {body!r}"
                return ""
        except urllib.error.HTTPError as e:
            return f"answered {e.code} {e.read()!r}, expected 200 {body!r}"
        except (OSError, http.client.HTTPException) as e:  # URLError is an OSError
            reason = getattr(e, "reason", e)
            if not isinstance(reason, ConnectionRefusedError):
                return f"request failed: {reason!r}"
        if time.monotonic() > deadline:
            return f"not listening after {timeout:g} s"
        time.sleep(0.05)


def stop(proc: "subprocess.Popen[bytes]") -> None:
    """SIGTERM the server, then SIGKILL its process group (its own session) if needed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # leftover workers of this server only
    except ProcessLookupError:
        pass
    proc.wait()


class Bench:
    """The settings of one comparison run."""

    def __init__(self, wrk: str, duration: float, warmup: float, pin: bool) -> None:
        self.wrk, self.duration, self.warmup, self.pin = wrk, duration, warmup, pin

    def run_wrk(self, port: int, seconds: float) -> str:
        """Run wrk -t1 -c50 for ``seconds`` against the port; its stdout."""
        cmd = [self.wrk, "-t1", f"-c{WRK_CONNS}", f"-d{seconds:g}s", f"http://127.0.0.1:{port}/"]
        if self.pin:
            cmd = ["taskset", "-c", "0", *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
        if r.returncode != 0:
            raise RuntimeError(f"wrk failed: {r.stderr}{r.stdout}")
        return r.stdout

    def measure(self, name: str, app: App, body: bytes) -> Optional[Result]:
        """Start ``name`` on ``app``, check it, drive it with wrk, stop it; None on failure."""
        port = free_port()
        values = {"py": PY, "bench": str(BENCH), "interface": app.interface,
                  "app": app.target, "port": str(port)}
        server = SERVERS[name]
        argv = [a.format(**values) for a in server.argv + server.extra.get(app.interface, ())]
        if self.pin:
            argv = ["taskset", "-c", "1", *argv]
        with tempfile.TemporaryFile() as log:
            proc = subprocess.Popen(argv, cwd=APPS_DIR, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            try:
                return self._drive(proc, port, body)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                print(f"  {name}: {e}", file=sys.stderr)
                return None
            finally:
                stop(proc)
                log.seek(0)
                self.output = log.read().decode(errors="replace")

    def _drive(self, proc: "subprocess.Popen[bytes]", port: int, body: bytes) -> Optional[Result]:
        problem = precheck(port, body, proc, 30)
        if problem:
            raise RuntimeError(f"failed the correctness pre-check: {problem}")
        if self.warmup:
            self.run_wrk(port, self.warmup)
        t0, _, _ = tree(proc.pid)
        text = self.run_wrk(port, self.duration)
        t1, threads, procs = tree(proc.pid)
        if proc.poll() is not None:
            raise RuntimeError(f"exited with status {proc.returncode} during the run")
        w = parse_wrk(text)
        if "rps" not in w or not w.get("requests"):
            raise RuntimeError(f"cannot parse wrk output:\n{text}")
        if w.get("non2xx") or w.get("sock_errors", 0) > w["requests"] / 100:
            raise RuntimeError(f"wrk saw errors:\n{text}")
        cpu_s = (t1 - t0) / CLK_TCK
        return {"rps": w["rps"], "cpu_us": cpu_s / w["requests"] * 1e6,
                "cpu_pct": cpu_s / w["seconds"] * 100,
                "threads": float(threads), "procs": float(procs)}


def rotate(items: List[str], n: int) -> List[str]:
    """``items`` rotated left by ``n``: each server leads one round in turn."""
    n %= len(items) or 1
    return items[n:] + items[:n]


def ratio_cell(a: Optional[float], b: Optional[float]) -> str:
    """a / b with two decimals, or '-'."""
    return f"{a / b:.2f}" if a and b else "-"


def print_table(rows: List[Tuple[str, ...]]) -> None:
    """Left-align the first two columns, right-align the others, rule under the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w) if j < 2 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(r, widths))).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def report(apps: List[str], servers: Dict[str, List[str]],
           samples: Dict[str, Dict[str, List[Result]]], rounds: int) -> None:
    """Per app and server: medians, spread and ratios to ours; then the targets.

    ``ours/this`` compares req/s; ``CPU this/ours`` compares CPU per request (above 1:
    ours needs less CPU per request), the steadier figure when other work shares the CPUs.
    ``CPU %`` is the server's CPU time over the run's duration: near 100 when pinned to an
    otherwise idle CPU, lower when it was starved (or waited on wrk).
    """
    med = {a: {s: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
               for s, rs in d.items() if rs} for a, d in samples.items()}
    rows = [("app", "server", "req/s", "min-max", "CPU us/req", "CPU %", "procs/threads",
             "rounds", "ours/this", "CPU this/ours")]
    for a in apps:
        ours = med[a].get(OURS, {})
        for s in servers[a]:
            m, rs = med[a].get(s), samples[a][s]
            if not m:
                rows.append((a, s, "FAILED", "-", "-", "-", "-", f"0/{rounds}", "-", "-"))
                continue
            rows.append((a, s, f"{m['rps']:.0f}",
                         f"{min(r['rps'] for r in rs):.0f}-{max(r['rps'] for r in rs):.0f}",
                         f"{m['cpu_us']:.1f}", f"{m['cpu_pct']:.0f}",
                         f"{m['procs']:.0f}/{m['threads']:.0f}",
                         f"{len(rs)}/{rounds}", ratio_cell(ours.get("rps"), m["rps"]),
                         ratio_cell(m["cpu_us"], ours.get("cpu_us"))))
    print_table(rows)
    print()
    rows = [("app", "best other", "ours/best", "target", "ours/peer", "met", "CPU peer/ours")]
    for a in apps:
        ours = med[a].get(OURS, {})
        others = {s: m for s, m in med[a].items() if not s.startswith(OURS)}
        best = max(others, key=lambda s: others[s]["rps"]) if others else None
        best_cell = f"{best} {others[best]['rps']:.0f}" if best else "-"
        best_ratio = ratio_cell(ours.get("rps"), others[best]["rps"]) if best else "-"
        for i, (peer, goal) in enumerate(APPS[a].goals.items()):
            p = others.get(peer, {})
            r = ours["rps"] / p["rps"] if ours and p else None
            met = "-" if r is None else ("yes" if r >= goal else "MISSED")
            rows.append((a if i == 0 else "", best_cell if i == 0 else "",
                         best_ratio if i == 0 else "", f">= {goal:g}x {peer}",
                         "-" if r is None else f"{r:.2f}", met,
                         ratio_cell(p.get("cpu_us"), ours.get("cpu_us"))))
    print_table(rows)


def git_head() -> str:
    """Short commit of the source tree (and '+dirty' if it has uncommitted changes)."""
    def git(*args: str) -> str:
        r = subprocess.run(["git", *args], cwd=BENCH, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""
    head = git("rev-parse", "--short", "HEAD") or "?"
    return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def main() -> None:
    """Measure the selected apps on every server that serves their interface."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=list(APPS), action="append", metavar="APP",
                    help=f"measure only this app (repeatable): {', '.join(APPS)}")
    ap.add_argument("--server", choices=list(SERVERS), action="append", metavar="NAME",
                    help=f"measure only this server (repeatable): {', '.join(SERVERS)}")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; figures are medians (3)")
    # wrk takes whole seconds only
    ap.add_argument("--duration", type=int, default=5, help="seconds per measured wrk run (5)")
    ap.add_argument("--warmup", type=int, default=1, help="seconds of wrk before it, 0: none (1)")
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="do not pin the server to CPU 1 and wrk to CPU 0")
    ap.add_argument("--json", metavar="FILE", help="also write every per-round figure here")
    args = ap.parse_args()
    if args.rounds < 1 or args.duration <= 0 or args.warmup < 0:
        ap.error("--rounds must be >= 1, --duration > 0, --warmup >= 0")
    if args.pin and (os.cpu_count() or 1) < 2:
        print("one CPU only: not pinning", file=sys.stderr)
        args.pin = False
    wrk = ensure_wrk()
    if not wrk:
        sys.exit("wrk is missing (apt-get install wrk)")

    apps = args.only or list(APPS)
    wanted = args.server or list(SERVERS)
    servers = {a: [s for s in wanted if APPS[a].interface in SERVERS[s].interfaces]
               for a in apps}
    dists = dict.fromkeys(d for s in wanted for d in SERVERS[s].dists)
    dists.update(dict.fromkeys(d for a in apps for d in APPS[a].dists))
    versions = {d: version(d) for d in dists}
    bodies = {a: expected_body(APPS[a]) for a in apps}
    bench = Bench(wrk, args.duration, args.warmup, args.pin)

    load_before = os.getloadavg()
    if load_before[0] > 0.5:
        print(f"warning: load average {load_before[0]:.2f} before the run: other work shares "
              "the CPUs and distorts the figures", file=sys.stderr)
    samples: Dict[str, Dict[str, List[Result]]] = {a: {s: [] for s in servers[a]} for a in apps}
    t_start = time.monotonic()
    for rnd in range(args.rounds):
        for a in apps:
            for s in rotate(servers[a], rnd):
                t0 = time.monotonic()
                res = bench.measure(s, APPS[a], bodies[a])
                shown = {k: round(v, 1) for k, v in res.items()} if res else "FAILED"
                print(f"round {rnd + 1}/{args.rounds} {a:9} {s:10} "
                      f"{time.monotonic() - t0:5.1f} s  {shown}", file=sys.stderr, flush=True)
                if res:
                    samples[a][s].append(res)
                else:
                    print("  server output:\n" + bench.output[-2000:], file=sys.stderr)
    elapsed = time.monotonic() - t_start
    if args.json:
        Path(args.json).write_text(json.dumps(samples, indent=1))

    load_after = os.getloadavg()
    print(f"\n{cpu_model()}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
          f"Python {platform.python_version()}, commit {git_head()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(", ".join(f"{d} {v}" for d, v in versions.items()))
    print(f"wrk -t1 -c{WRK_CONNS} keep-alive, {args.warmup:g} s warm-up + {args.duration:g} s; "
          f"median of {args.rounds} rounds, servers alternating; "
          + ("server on CPU 1, wrk on CPU 0 (taskset)" if args.pin else "not pinned")
          + f"; {elapsed:.0f} s; load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after")
    for s in wanted:
        extra = "".join(f"; {i}: + {' '.join(a)}" for i, a in SERVERS[s].extra.items())
        print(f"  {s}: {' '.join(SERVERS[s].argv)}{extra}")
    print()
    report(apps, servers, samples, args.rounds)


if __name__ == "__main__":
    main()
