"""``--workers N``: N worker processes share one port with SO_REUSEPORT.

The supervisor starts each worker as a fresh interpreter with subprocess
(fork immediately followed by exec, no Python code in between): the Go
runtime of the extension does not survive a fork without exec, so workers
must never be forked from a process that has loaded it (multiprocessing's
"fork" context would do exactly that; "spawn" would be safe too).

It restarts a worker that dies (waiting longer after each quick death) and
on SIGINT/SIGTERM sends SIGTERM to every worker, which stops accepting,
answers the requests in flight and exits; a second signal kills them.
Workers run in their own session, so Ctrl+C in a terminal reaches only the
supervisor and each worker gets exactly one stop signal.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from typing import Optional

from ._cli import EXIT_FATAL, error, url_of

# Restart delays: doubled after each worker that died within STABLE_S of
# its start, back to the first once one lived longer.
FIRST_DELAY_S = 0.1
MAX_DELAY_S = 10.0
STABLE_S = 10.0
# How long workers may outlive --timeout-graceful-shutdown before SIGKILL.
KILL_MARGIN_S = 5.0

# The worker's interpreter imports the same pymongoose as this process,
# whatever its working directory holds.
_BOOT = "import sys; sys.path[0] = sys.argv[1]; from pymongoose._worker import main; sys.exit(main(sys.argv[2:]))"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _how(status: int) -> str:
    """How a process ended, from its Popen.returncode."""
    return f"was killed by {_signal_name(-status)}" if status < 0 else f"exited with status {status}"


def reserve_port(host: str, port: int) -> socket.socket:
    """Bind (without listening) a SO_REUSEPORT socket on host:port: it keeps
    the port for the workers while any of them restarts, and gives --port 0
    a port number all of them share. Prefers IPv4, as the engine does."""
    infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


class Worker:
    """One worker slot: its current process and restart bookkeeping."""

    def __init__(self) -> None:
        self.proc: Optional[subprocess.Popen] = None
        self.started = 0.0
        self.delay = 0.0
        self.restart_at: Optional[float] = None


class Supervisor:
    """Runs N workers of one command line until SIGINT/SIGTERM."""

    def __init__(self, config: dict) -> None:
        self.config = config
        self.count = int(config["workers"])
        self.verbose = config["log_level"] in ("info", "debug", "trace")
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.command = [sys.executable, "-c", _BOOT, package_parent, json.dumps(config)]
        self.workers = [Worker() for _ in range(self.count)]
        self.signals: list[int] = []

    def log(self, message: str) -> None:
        if self.verbose:
            print(f"pymongoose: {message}", file=sys.stderr, flush=True)

    def start(self, worker: Worker) -> None:
        worker.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, start_new_session=True)
        worker.started = time.monotonic()
        worker.restart_at = None
        self.log(f"started worker process {worker.proc.pid}")

    def live(self) -> list[subprocess.Popen]:
        return [w.proc for w in self.workers if w.proc is not None and w.proc.poll() is None]

    def on_exit(self, worker: Worker, status: int) -> bool:
        """Schedule the restart of a worker that ended by itself; False when
        it ended with EXIT_FATAL (restarting cannot help)."""
        assert worker.proc is not None
        pid = worker.proc.pid
        worker.proc = None
        if status == EXIT_FATAL:
            return False
        lived = time.monotonic() - worker.started
        worker.delay = FIRST_DELAY_S if lived >= STABLE_S or not worker.delay else min(worker.delay * 2, MAX_DELAY_S)
        worker.restart_at = time.monotonic() + worker.delay
        print(f"pymongoose: worker process {pid} {_how(status)}; restarting it in {worker.delay:g} s",
              file=sys.stderr, flush=True)
        return True

    def wait(self, wakeup: socket.socket, timeout: Optional[float]) -> None:
        """Sleep until a signal (SIGCHLD included) arrives or ``timeout``."""
        try:
            select.select([wakeup], [], [], timeout)
            while wakeup.recv(64):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def serve(self, wakeup: socket.socket) -> int:
        """Keep the workers running until a signal; 1 if one failed fatally."""
        for worker in self.workers:
            self.start(worker)
        while True:
            now = time.monotonic()
            due = [w.restart_at for w in self.workers if w.restart_at is not None]
            self.wait(wakeup, max(0.0, min(due) - now) if due else None)
            if self.signals:
                return 0
            for worker in self.workers:
                if worker.proc is not None:
                    status = worker.proc.poll()
                    if status is not None and not self.on_exit(worker, status):
                        error("a worker could not start the app; stopping")
                        return 1
                elif worker.restart_at is not None and worker.restart_at <= time.monotonic():
                    self.start(worker)

    def stop(self, wakeup: socket.socket) -> bool:
        """SIGTERM every worker and wait for all; True if all exited 0."""
        handled = len(self.signals)
        procs = self.live()
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + float(self.config["timeout_graceful_shutdown"]) + KILL_MARGIN_S
        while self.live():
            left = deadline - time.monotonic()
            if left <= 0 or len(self.signals) > handled:
                error("workers still running: killing them")
                for proc in self.live():
                    proc.kill()
                break
            self.wait(wakeup, left)
        clean = True
        for proc in procs:
            # -SIGTERM: stopped while still starting, before serve() took
            # over the signal: it had nothing in flight.
            if proc.wait() not in (0, -signal.SIGTERM):
                error(f"worker process {proc.pid} {_how(proc.returncode)} while stopping")
                clean = False
        return clean

    def run(self) -> int:
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        previous = {}

        def on_signal(number: int, frame: object) -> None:
            if number != signal.SIGCHLD:
                self.signals.append(number)

        try:
            for number in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
                previous[number] = signal.signal(number, on_signal)
            old_wakeup = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
            try:
                status = self.serve(reader)
                if self.signals:
                    self.log(f"{_signal_name(self.signals[0])}: stopping {len(self.live())} workers")
                if not self.stop(reader):
                    status = 1
            finally:
                signal.set_wakeup_fd(old_wakeup)
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
            reader.close()
            writer.close()
        self.log("stopped")
        return status


def supervise(config: dict) -> int:
    """Serve ``config`` (the parsed command line) from ``config["workers"]``
    processes until SIGINT/SIGTERM; the exit status of the command."""
    try:
        reserved = reserve_port(config["host"], config["port"])
    except OSError as exc:
        error(f"cannot listen on {config['host']}:{config['port']}: {exc.strerror or exc}")
        return 1
    with reserved:
        config = {**config, "port": reserved.getsockname()[1], "supervisor_pid": os.getpid()}
        supervisor = Supervisor(config)
        supervisor.log(f"supervisor process {os.getpid()}: {supervisor.count} workers on {url_of(config)}")
        return supervisor.run()
