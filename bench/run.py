"""Run the benchmarks for pymongoose (ours) and cymongoose (peer) and print a comparison.

Usage: ``python bench/run.py [--only dispatch|keepalive] [--duration S] [--quick]``

Each implementation runs in its own subprocess (the Go and C engines never share a
process). Both run in the same invocation so that their figures see the same machine
load; compare the ratios, not absolute numbers across runs. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional

BENCH = Path(__file__).resolve().parent
PY = sys.executable
OURS, PEER = "pymongoose", "cymongoose"
Result = dict[str, float]


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
    quiet = {"stdout": subprocess.DEVNULL, "env": env}
    if subprocess.run(["apt-get", "install", "-y", "wrk"], **quiet).returncode != 0:
        subprocess.run(["apt-get", "update"], **quiet)
        subprocess.run(["apt-get", "install", "-y", "wrk"], **quiet)
    return shutil.which("wrk")


def run_dispatch(impl: str, quick: bool) -> Optional[Result]:
    """Run bench/dispatch.py for ``impl``; return its metrics or None on failure."""
    cmd = [PY, str(BENCH / "dispatch.py"), impl]
    if quick:
        cmd += ["--polls", "100", "--runs", "3"]
    r = subprocess.run(cmd, cwd=BENCH, capture_output=True, text=True, timeout=180)
    if r.returncode != 0:
        print(f"dispatch/{impl} failed:\n{r.stderr}{r.stdout}", file=sys.stderr)
        return None
    d = json.loads(r.stdout.strip().splitlines()[-1])
    return {"poll_best": d["ns_per_poll_event_best"], "poll_median": d["ns_per_poll_event_median"]}


def to_ms(value: str) -> float:
    """Convert a wrk duration such as ``512.00us``, ``1.20ms`` or ``2.00s`` to ms."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not m:
        raise ValueError(value)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[m.group(2)]
    return float(m.group(1)) * scale


def parse_wrk(text: str) -> Result:
    """Extract requests/s, mean, p50 and p99 latency (ms) and error counts from wrk output."""
    out: Result = {}
    if m := re.search(r"Requests/sec:\s+([\d.]+)", text):
        out["rps"] = float(m.group(1))
    if m := re.search(r"^\s+Latency\s+(\S+)", text, re.M):
        out["lat_mean"] = to_ms(m.group(1))
    for pct in ("50", "99"):
        if m := re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M):
            out[f"lat_p{pct}"] = to_ms(m.group(1))
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


def wrk(binary: str, port: int, seconds: int) -> str:
    """Run wrk (1 thread, 50 keep-alive connections) against the loopback port."""
    cmd = [binary, "-t1", "-c50", f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}/"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    if r.returncode != 0:
        raise RuntimeError(f"wrk failed: {r.stderr}")
    return r.stdout


def run_keepalive(impl: str, binary: str, seconds: int, warmup: int) -> Optional[Result]:
    """Start bench/keepalive.py for ``impl``, drive it with wrk, stop it; None on failure."""
    proc = subprocess.Popen([PY, str(BENCH / "keepalive.py"), impl], cwd=BENCH,
                            stdout=subprocess.PIPE, text=True)
    try:
        line = read_line(proc, 30)
        if not line.startswith("PORT "):
            print(f"keepalive/{impl}: server did not start ({line!r})", file=sys.stderr)
            return None
        port = int(line.split()[1])
        if warmup:
            wrk(binary, port, warmup)
        text = wrk(binary, port, seconds)
        out = parse_wrk(text)
        if "rps" not in out:
            print(f"keepalive/{impl}: cannot parse wrk output:\n{text}", file=sys.stderr)
            return None
        if out.get("non2xx") or out.get("sock_errors"):
            print(f"keepalive/{impl}: wrk saw errors:\n{text}", file=sys.stderr)
        proc.send_signal(signal.SIGTERM)
        summary = read_line(proc, 10)
        if summary:
            s = json.loads(summary)
            if s["served"]:
                out["cpu_us"] = s["cpu_s"] / s["served"] * 1e6
        return out
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"keepalive/{impl}: {e}", file=sys.stderr)
        return None
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# (key, label, lower_is_better, format)
METRICS: dict[str, list[tuple[str, str, bool, str]]] = {
    "dispatch": [
        ("poll_best", "dispatch: ns per MG_EV_POLL (best)", True, "{:.0f}"),
        ("poll_median", "dispatch: ns per MG_EV_POLL (median)", True, "{:.0f}"),
    ],
    "keepalive": [
        ("rps", "keep-alive: requests/s", False, "{:.0f}"),
        ("lat_mean", "keep-alive: latency mean (ms)", True, "{:.3f}"),
        ("lat_p50", "keep-alive: latency p50 (ms)", True, "{:.3f}"),
        ("lat_p99", "keep-alive: latency p99 (ms)", True, "{:.3f}"),
        ("cpu_us", "keep-alive: server CPU us/request", True, "{:.1f}"),
    ],
}


def print_table(results: dict[str, dict[str, Optional[Result]]]) -> None:
    """Print metric, ours, peer, ratio ours/peer and which direction is better."""
    rows = [("metric", f"ours ({OURS})", f"peer ({PEER})", "ours/peer", "better", "winner")]
    for bench, metrics in METRICS.items():
        if bench not in results:
            continue
        ours, peer = results[bench].get(OURS), results[bench].get(PEER)
        for key, label, lower, fmt in metrics:
            a = ours.get(key) if ours else None
            b = peer.get(key) if peer else None
            ratio, winner = "-", "-"
            if a is not None and b:
                ratio = f"{a / b:.2f}"
                winner = OURS if (a < b) == lower else PEER
            rows.append((label, fmt.format(a) if a is not None else "n/a",
                         fmt.format(b) if b is not None else "n/a",
                         ratio, "lower" if lower else "higher", winner))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in
                        enumerate(zip(r, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main() -> None:
    """Run the selected benchmarks for every available implementation."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["dispatch", "keepalive"])
    ap.add_argument("--duration", type=int, default=10, help="wrk seconds per implementation")
    ap.add_argument("--quick", action="store_true", help="fewer runs, 3 s wrk, no warm-up")
    args = ap.parse_args()
    seconds = 3 if args.quick and args.duration == 10 else args.duration
    warmup = 0 if args.quick else 1

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
    if args.only in (None, "dispatch"):
        benches["dispatch"] = lambda impl: run_dispatch(impl, args.quick)
    if args.only in (None, "keepalive"):
        binary = ensure_wrk()
        if binary:
            benches["keepalive"] = lambda impl: run_keepalive(impl, binary, seconds, warmup)
        else:
            print("wrk is missing (apt-get install wrk); skipping keep-alive", file=sys.stderr)

    results: dict[str, dict[str, Optional[Result]]] = {}
    for name, fn in benches.items():
        results[name] = {}
        for impl in impls:
            t0 = time.monotonic()
            print(f"running {name} / {impl} ...", file=sys.stderr, flush=True)
            results[name][impl] = fn(impl)
            print(f"  done in {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)

    print(f"\n{os.cpu_count()} CPUs; wrk -t1 -c50 -d{seconds}s on 127.0.0.1; "
          "ratio = ours/peer, see 'better' for the direction\n")
    print_table(results)


if __name__ == "__main__":
    main()
