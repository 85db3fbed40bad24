"""Run the benchmarks for pymongoose (ours) and cymongoose (peer) and print a comparison.

Usage: ``python bench/run.py [--only NAME ...] [--rounds N] [--duration S] [--quick]``

Six metrics (see bench/README.md): keep-alive req/s and server CPU per request, one
connection per request req/s, 1 MiB reply MB/s (wrk against bench/server.py), ns per
MG_EV_POLL with 1,000 idle connections (bench/dispatch.py) and RSS per idle connection at
10,000 connections (bench/rss.py). Each implementation runs in its own subprocess; both run
in the same invocation, alternating (ours first in odd rounds, peer first in even rounds),
and each figure is the median of the rounds. Compare the ratios, not absolute numbers
across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional

BENCH = Path(__file__).resolve().parent
PY = sys.executable
OURS, PEER = "pymongoose", "cymongoose"
Result = dict[str, float]
CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1 << 20


def importable(module: str) -> bool:
    """Whether ``module`` imports in a fresh interpreter (cwd=bench/, not the source tree)."""
    r = subprocess.run([PY, "-c", f"import {module}"], cwd=BENCH, capture_output=True)
    return r.returncode == 0


def ensure_peer() -> bool:
    """Make cymongoose importable, installing it with pip if needed."""
    if importable(PEER):
        return True
    print(f"{PEER} is not installed; trying: {PY} -m pip install {PEER}", file=sys.stderr)
    subprocess.run([PY, "-m", "pip", "install", "--quiet", PEER], cwd=BENCH)
    return importable(PEER)


def ensure_wrk() -> Optional[str]:
    """Path of wrk, installing the Debian package when running as root; None if missing."""
    path = shutil.which("wrk")
    if path or os.geteuid() != 0 or not shutil.which("apt-get"):
        return path
    print("wrk is not installed; trying: apt-get install -y wrk", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    def apt(*args: str) -> int:
        return subprocess.run(["apt-get", *args], stdout=subprocess.DEVNULL, env=env).returncode

    if apt("install", "-y", "wrk") != 0:
        apt("update")
        apt("install", "-y", "wrk")
    return shutil.which("wrk")


def run_json(name: str, cmd: list[str], timeout: float) -> Optional[dict[str, float]]:
    """Run a benchmark script that prints one JSON object as its last stdout line."""
    r = subprocess.run(cmd, cwd=BENCH, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        print(f"{name} failed:\n{r.stderr}{r.stdout}", file=sys.stderr)
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_dispatch(impl: str, quick: bool) -> Optional[Result]:
    """ns per MG_EV_POLL with 1,000 idle connections (median of dispatch.py's runs)."""
    cmd = [PY, str(BENCH / "dispatch.py"), impl]
    cmd += ["--polls", "100", "--runs", "3"] if quick else ["--polls", "300", "--runs", "5"]
    d = run_json(f"dispatch/{impl}", cmd, 180)
    return {"poll_ns": d["ns_per_poll_event_median"]} if d else None


def run_rss(impl: str, conns: int) -> Optional[Result]:
    """Bytes of RSS per idle connection at ``conns`` connections."""
    d = run_json(f"rss/{impl}", [PY, str(BENCH / "rss.py"), impl, "--conns", str(conns)], 300)
    return {"rss_b": d["bytes_per_conn"]} if d else None


def to_ms(value: str) -> float:
    """Convert a wrk duration such as ``512.00us``, ``1.20ms`` or ``2.00s`` to ms."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not m:
        raise ValueError(value)
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[m.group(2)]


def parse_wrk(text: str) -> Result:
    """Extract requests/s, completed requests and error counts from wrk output."""
    out: Result = {}
    if m := re.search(r"Requests/sec:\s+([\d.]+)", text):
        out["rps"] = float(m.group(1))
    if m := re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+)([KMGT]?B) read", text):
        out["requests"] = float(m.group(1))
        out["seconds"] = to_ms(m.group(2) + m.group(3)) / 1e3
        scale = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}
        out["bytes"] = float(m.group(4)) * scale[m.group(5)]
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text):
        out["non2xx"] = float(m.group(1))
    if m := re.search(r"Socket errors:(.*)", text):
        out["sock_errors"] = float(sum(int(n) for n in re.findall(r"\d+", m.group(1))))
    return out


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """Read one stdout line from ``proc`` within ``timeout`` seconds ('' on timeout/EOF)."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if ready else ""


def cpu_ticks(pid: int) -> int:
    """utime + stime of ``pid`` in clock ticks, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wrk(binary: str, port: int, seconds: float, conns: int, close: bool) -> str:
    """Run wrk (1 thread) against the loopback port."""
    cmd = [binary, "-t1", f"-c{conns}", f"-d{seconds:g}s"]
    if close:
        cmd += ["-H", "Connection: close"]
    cmd.append(f"http://127.0.0.1:{port}/")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    if r.returncode != 0:
        raise RuntimeError(f"wrk failed: {r.stderr}")
    return r.stdout


# mode -> (wrk connections, send Connection: close)
WRK_MODES = {"keepalive": (50, False), "close": (50, True), "big": (8, True)}


def run_wrk(impl: str, mode: str, binary: str, seconds: float, warmup: float) -> Optional[Result]:
    """Start bench/server.py in ``mode``, drive it with wrk, stop it; None on failure."""
    conns, close = WRK_MODES[mode]
    proc = subprocess.Popen([PY, str(BENCH / "server.py"), impl, "--mode", mode], cwd=BENCH,
                            stdout=subprocess.PIPE, text=True)
    try:
        line = read_line(proc, 30)
        if not line.startswith("PORT "):
            print(f"{mode}/{impl}: server did not start ({line!r})", file=sys.stderr)
            return None
        port = int(line.split()[1])
        if warmup:
            wrk(binary, port, warmup, conns, close)
        t0 = cpu_ticks(proc.pid)
        text = wrk(binary, port, seconds, conns, close)
        cpu_s = (cpu_ticks(proc.pid) - t0) / CLK_TCK
        w = parse_wrk(text)
        if "rps" not in w or not w.get("requests"):
            print(f"{mode}/{impl}: cannot parse wrk output:\n{text}", file=sys.stderr)
            return None
        if w.get("non2xx") or (w.get("sock_errors", 0) > w["requests"] / 100):
            print(f"{mode}/{impl}: wrk saw errors:\n{text}", file=sys.stderr)
        if mode == "keepalive":
            return {"ka_rps": w["rps"], "cpu_us": cpu_s / w["requests"] * 1e6}
        if mode == "close":
            return {"close_rps": w["rps"], "close_cpu_us": cpu_s / w["requests"] * 1e6}
        if w["bytes"] < 0.99 * w["requests"] * MIB:  # wrk rounds "1.14GB read"
            print(f"{mode}/{impl}: replies shorter than 1 MiB:\n{text}", file=sys.stderr)
            return None
        return {"big_mbs": w["bytes"] / w["seconds"] / 1e6, "big_cpu_us": cpu_s / w["requests"] * 1e6}
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"{mode}/{impl}: {e}", file=sys.stderr)
        return None
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# (key, label, lower_is_better, format, target ratio ours/peer or None)
METRICS: list[tuple[str, str, bool, str, Optional[float]]] = [
    ("ka_rps", "keep-alive req/s (wrk -t1 -c50, 27 B JSON)", False, "{:.0f}", 1.3),
    ("close_rps", "one connection per request req/s (reply+drain)", False, "{:.0f}", 1.2),
    ("big_mbs", "1 MiB reply + drain, MB/s (wrk -c8)", False, "{:.0f}", 3.0),
    ("poll_ns", "ns per MG_EV_POLL, 1,000 idle conns", True, "{:.0f}", 0.4),
    ("rss_b", "RSS bytes per idle conn at {conns} conns", True, "{:.0f}", 0.8),
    ("cpu_us", "server CPU us per keep-alive request", True, "{:.2f}", 0.8),
    ("close_cpu_us", "(info) server CPU us per close request", True, "{:.2f}", None),
    ("big_cpu_us", "(info) server CPU us per 1 MiB request", True, "{:.0f}", None),
]


def print_table(med: dict[str, Result], conns: int) -> None:
    """Print metric, ours, peer, ratio ours/peer, target and whether it is met."""
    rows = [("metric", f"ours ({OURS})", f"peer ({PEER})", "ours/peer", "target", "met")]
    for key, label, lower, fmt, target in METRICS:
        a, b = med.get(OURS, {}).get(key), med.get(PEER, {}).get(key)
        if a is None and b is None:
            continue
        ratio, met = "-", "-"
        if a is not None and b:
            ratio = f"{a / b:.2f}"
            if target is not None:
                met = "yes" if ((a / b <= target) if lower else (a / b >= target)) else "MISSED"
        tgt = "-" if target is None else ("<= " if lower else ">= ") + f"{target:g}x"
        rows.append((label.format(conns=f"{conns:,}"), fmt.format(a) if a is not None else "n/a",
                     fmt.format(b) if b is not None else "n/a", ratio, tgt, met))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in
                        enumerate(zip(r, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


BENCH_NAMES = ["keepalive", "close", "big", "dispatch", "rss"]


def main() -> None:
    """Run the selected benchmarks, alternating implementations, and print the medians."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=BENCH_NAMES, action="append",
                    help="run only this benchmark (repeatable)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (median), at least 3")
    ap.add_argument("--duration", type=int, help="wrk seconds per run (default 3, quick 1)")
    ap.add_argument("--conns", type=int, help="RSS connections (default 10000, quick 2000)")
    ap.add_argument("--quick", action="store_true", help="1 s wrk runs, no warm-up, fewer polls")
    ap.add_argument("--json", metavar="FILE", help="also write every per-round figure here")
    args = ap.parse_args()
    seconds = args.duration or (1 if args.quick else 3)
    warmup = 0 if args.quick else 1
    conns = args.conns or (2000 if args.quick else 10000)
    rounds = max(args.rounds, 3)  # the issue asks for the median of at least 3
    selected = args.only or BENCH_NAMES

    impls = []
    if importable(f"{OURS}._mongoose"):
        impls.append(OURS)
    else:
        print(f"ours: {OURS} is not installed (run `make install`); skipping it", file=sys.stderr)
    if ensure_peer():
        impls.append(PEER)
    else:
        print(f"peer: {PEER} is missing and could not be installed; skipping it",
              file=sys.stderr)
    if not impls:
        sys.exit("no implementation to benchmark")

    benches: dict[str, Callable[[str], Optional[Result]]] = {}
    binary = ensure_wrk() if {"keepalive", "close", "big"} & set(selected) else None
    for name in selected:
        if name in WRK_MODES:
            if binary:
                benches[name] = (lambda mode: lambda impl: run_wrk(
                    impl, mode, binary, seconds, warmup))(name)
            else:
                print(f"wrk is missing (apt-get install wrk); skipping {name}", file=sys.stderr)
        elif name == "dispatch":
            benches[name] = lambda impl: run_dispatch(impl, args.quick)
        elif name == "rss":
            benches[name] = lambda impl: run_rss(impl, conns)

    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: load average {load:.2f} before the run: other work shares the CPUs "
              "and will distort the figures (ratios included)", file=sys.stderr)
    # samples[impl][key] = one figure per round
    samples: dict[str, dict[str, list[float]]] = {impl: {} for impl in impls}
    t_start = time.monotonic()
    for rnd in range(rounds):
        order = impls if rnd % 2 == 0 else impls[::-1]
        for name, fn in benches.items():
            for impl in order:
                t0 = time.monotonic()
                res = fn(impl)
                print(f"round {rnd + 1}/{rounds} {name:9} {impl:10} "
                      f"{time.monotonic() - t0:5.1f} s  {res}", file=sys.stderr, flush=True)
                for k, v in (res or {}).items():
                    samples[impl].setdefault(k, []).append(v)
    med = {impl: {k: statistics.median(v) for k, v in d.items()} for impl, d in samples.items()}
    if args.json:
        Path(args.json).write_text(json.dumps(samples, indent=1))

    print(f"\n{cpu_model()}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
          f"Python {platform.python_version()}; loopback; wrk -t1 -d{seconds:g}s; "
          f"median of {rounds} alternating rounds ({time.monotonic() - t_start:.0f} s)\n")
    print_table(med, conns)


if __name__ == "__main__":
    main()
