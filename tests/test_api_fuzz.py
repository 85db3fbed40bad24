"""Stateful fuzzer of the Python API: random call sequences must never crash,
hang, leak or lose data.

A seeded random driver (this file run as a script) plays random sequences of
Manager / Connection / Timer / wakeup / TLS calls and event-time actions
(close, drain, Manager.close, raising, KeyboardInterrupt, set_handler,
serve_file, nested poll, calls from other threads) against real loopback
peers that read, stall, reset and half-close. After every step it checks the
wrapper invariants; after every seed (one Manager) it checks that no file
descriptor, goroutine, wrapper or timer handle is left and that every byte
queued on a drained connection reached its peer.

The pytest test runs the driver in a subprocess (a crash or hang fails it)
for PYMONGOOSE_FUZZ_SECONDS (default 30). A finding prints its seed; replay
it with::

    cd tests && python test_api_fuzz.py --seed SEED

Long run: ``make fuzz-py FUZZ_PY_SECONDS=1800`` (part of ``make fuzz-long``).
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import random
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def test_api_fuzz_short_run():
    import pytest

    seconds = float(os.environ.get("PYMONGOOSE_FUZZ_SECONDS", "30"))
    first = int(os.environ.get("PYMONGOOSE_FUZZ_SEED", str(random.SystemRandom().randrange(1 << 30))))
    cmd = [sys.executable, os.path.join(HERE, "test_api_fuzz.py"), "--first-seed", str(first),
           "--seconds", str(seconds)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120, cwd=HERE)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        pytest.fail(f"fuzzer hung; {replay_hint(out)}")
    if p.returncode != 0:
        pytest.fail(f"fuzzer exit {p.returncode}; {replay_hint(p.stdout)}\n"
                    f"stdout tail:\n{p.stdout[-4000:]}\nstderr tail:\n{p.stderr[-6000:]}")
    assert "DONE" in p.stdout, p.stdout[-2000:]
    sys.stdout.write(p.stdout.splitlines()[-1] + "\n")


def replay_hint(out: str) -> str:
    seeds = [line.split()[1] for line in out.splitlines() if line.startswith("SEED ")]
    if not seeds:
        return "no seed started"
    return f"failing seed {seeds[-1]}: replay with `cd tests && python test_api_fuzz.py --seed {seeds[-1]}`"


# ---------------------------------------------------------------------------
# The driver (runs in its own process)
# ---------------------------------------------------------------------------


class Finding(Exception):
    """An invariant of the API was broken."""


class Deliberate(Exception):
    """Raised by handlers on purpose: goes to the error_handler."""


def make_cert():
    """A self-signed EC P-256 certificate for 127.0.0.1 (PEM cert, PEM key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()))


def fd_set():
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            out.add((fd, os.readlink(f"/proc/self/fd/{fd}")))
        except OSError:
            pass
    return out


class Peer:
    """A loopback client socket driven by the fuzzer: reads, stalls, resets
    or half-closes."""

    def __init__(self, port, mode, rng, http):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.mode = mode  # read | stall | reset | halfclose
        self.got = bytearray()
        self.eof = False
        self.reset_seen = False
        self.rng = rng
        self.http = http

    def write(self, data):
        try:
            self.sock.send(data)
        except OSError:
            pass

    def pump(self):
        if self.eof or self.mode == "stall":
            return
        for _ in range(64):
            try:
                b = self.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                self.reset_seen = True
                self.eof = True
                return
            if not b:
                self.eof = True
                return
            self.got += b

    def close(self):
        self.sock.close()


class Driver:
    def __init__(self, seed, steps, cert, verbose=False):
        import pymongoose as pm

        self.pm = pm
        self.rng = random.Random(seed)
        self.seed = seed
        self.steps = steps
        self.cert = cert
        self.verbose = verbose
        self.problems = []
        self.peers = []
        self.closed = set()  # wrappers (kept alive: ids are not reused)
        self.events_after_close = []
        self.live = []          # wrappers that have not had MG_EV_CLOSE
        self.listeners = {}     # kind -> port
        self.sent = {}          # wrapper -> bytes queued by send()
        self.unverifiable = set()
        self.drained = set()
        self.peer_of = {}       # wrapper -> Peer
        self.timers = []
        self.files = None
        self.mgr = None
        self.freed = False
        self.inside = 0         # depth of handlers running on this thread
        self.step_no = 0
        self.verified = 0       # drained connections whose bytes were checked

    # -- recording -------------------------------------------------------
    def note(self, msg):
        self.problems.append(f"step {self.step_no}: {msg}")

    def error_handler(self, exc):
        if not isinstance(exc, Deliberate):
            self.note(f"unexpected exception in a handler: {exc!r}")
            import traceback
            traceback.print_exception(exc)

    def expect(self, fn, *allowed):
        """Run an API call; allowed exception types pass, anything else (other
        than KeyboardInterrupt, which is raised on purpose) is a finding."""
        try:
            return fn()
        except KeyboardInterrupt:
            if self.inside:
                raise
            return None
        except allowed:
            return None
        except Exception as e:  # noqa: BLE001 - every other type is a finding
            import traceback
            traceback.print_exc()
            self.note(f"unexpected {type(e).__name__}: {e}")
            return None

    # -- the handler -----------------------------------------------------
    def handler(self, c, ev, data):
        pm = self.pm
        if c.id == 0 and ev != pm.MG_EV_CLOSE:
            self.note(f"event {ev} delivered to a closed wrapper")
        if c in self.closed:
            self.note(f"event {ev} after MG_EV_CLOSE")
        if ev == pm.MG_EV_OPEN:
            self.live.append(c)
        elif ev == pm.MG_EV_ACCEPT:
            ra = c.remote_addr
            for p in self.peers:
                if ra and p.port == ra[1] and p not in self.peer_of.values():
                    self.peer_of[c] = p
        elif ev == pm.MG_EV_CLOSE:
            self.closed.add(c)
            if c in self.live:
                self.live.remove(c)
        self.inside += 1
        try:
            if ev in (pm.MG_EV_POLL,) and self.rng.random() < 0.9:
                return  # POLL comes every iteration: act on a few
            self.event_action(c, ev, data)
        finally:
            self.inside -= 1

    def event_action(self, c, ev, data):
        pm = self.pm
        r = self.rng.random()
        if ev == pm.MG_EV_HTTP_MSG and r < 0.5:
            choice = self.rng.choice(["reply", "serve_file", "serve_dir", "chunked", "close_then_serve"])
            if choice == "reply":
                self.expect(lambda: c.reply(200, b"x" * self.rng.randrange(0, 5000)), RuntimeError)
            elif choice == "serve_file":
                self.expect(lambda: c.serve_file(data, self.files[0]), RuntimeError)
            elif choice == "serve_dir":
                self.expect(lambda: c.serve_dir(data, self.files[1]), RuntimeError)
            elif choice == "chunked":
                self.expect(lambda: c.reply(200, b"", {"Transfer-Encoding": "chunked"}), RuntimeError)
                self.expect(lambda: c.http_chunk(b"abc"), RuntimeError)
                self.expect(lambda: c.http_chunk(b""), RuntimeError)
            else:
                c.userdata = data
                self.expect(c.close, RuntimeError)
            return
        if ev == pm.MG_EV_CLOSE and isinstance(c.userdata, pm.HttpMessage) and c.userdata:
            self.expect(lambda: c.serve_file(c.userdata, self.files[0]), RuntimeError)
            return
        if r < 0.75:
            return
        self.random_action(in_handler=True, conn=c)

    # -- actions ---------------------------------------------------------
    def pick_conn(self):
        live = list(self.live)  # a closing thread's handlers change the list meanwhile
        if live and self.rng.random() < 0.95:
            return self.rng.choice(live)
        return self.pm.Connection()  # a closed wrapper

    def do_send(self, c, data):
        # None (refused: another thread is inside) counts as draining
        before = self.expect(lambda: c.is_draining or c.is_udp, RuntimeError) is not False
        ok = self.expect(lambda: (c.send(data), True)[1], RuntimeError)
        if ok:  # recorded before MG_EV_ACCEPT maps c to its peer too
            if before:
                self.unverifiable.add(c)
            self.sent[c] = self.sent.get(c, b"") + (data.encode() if isinstance(data, str) else bytes(data))

    def random_action(self, in_handler=False, conn=None):
        pm, rng, mgr = self.pm, self.rng, self.mgr
        c = conn if conn is not None and rng.random() < 0.6 else self.pick_conn()
        actions = [
            ("send", 12), ("drain", 5), ("close", 3), ("error", 1), ("reply", 2), ("getters", 4),
            ("recv_data", 2), ("set_handler", 2), ("timer_add", 4), ("timer_cancel", 2), ("wakeup", 3),
            ("listen", 2), ("connect", 3), ("peer", 4), ("raise", 2), ("keyboard", 1), ("nested_poll", 1),
            ("thread_call", 2), ("thread_wakeup", 1), ("mgr_close", 0.15), ("thread_close", 0.1), ("tls", 1), ("poll", 0 if in_handler else 6),
        ]
        names, weights = zip(*actions)
        a = rng.choices(names, weights)[0]
        if self.verbose:
            print(f"  {'H' if in_handler else 'M'} {a} on {c!r}", flush=True)
        if a == "send":
            self.do_send(c, rng.randbytes(rng.choice([1, 10, 1000, 70000])))
        elif a == "drain":
            self.expect(c.drain, RuntimeError)
            if c.id:
                self.drained.add(c)
        elif a == "close":
            self.unverifiable.add(c)
            self.expect(c.close, RuntimeError)
        elif a == "error":
            self.unverifiable.add(c)
            self.expect(lambda: c.error("fuzz error"), RuntimeError)
        elif a == "reply":
            self.unverifiable.add(c)
            self.expect(lambda: c.reply(rng.choice([200, 404, 500]), b"body"), RuntimeError)
        elif a == "getters":
            for name in ("is_listening", "is_client", "is_tls", "is_udp", "is_websocket", "is_readable",
                         "is_writable", "is_full", "is_draining", "is_closing", "local_addr", "remote_addr",
                         "recv_len", "send_len", "recv_size", "send_size", "id", "userdata"):
                self.expect(lambda: getattr(c, name), RuntimeError)
            repr(c)
        elif a == "recv_data":
            self.expect(lambda: c.recv_data(rng.choice([-1, 0, 5])), RuntimeError)
            self.expect(lambda: c.send_data(), RuntimeError)
        elif a == "set_handler":
            c.set_handler(rng.choice([None, self.handler]))
        elif a == "timer_add":
            t = self.expect(lambda: mgr.timer_add(rng.randrange(0, 5), self.timer_cb, repeat=rng.random() < 0.3,
                                                  run_now=rng.random() < 0.3), RuntimeError)
            if t is not None:
                self.timers.append(t)
        elif a == "timer_cancel":
            if self.timers:
                rng.choice(self.timers).cancel()
        elif a == "wakeup":
            self.expect(lambda: mgr.wakeup(c.id, rng.randbytes(rng.randrange(0, 100))), RuntimeError)
        elif a == "listen":
            kind = rng.choice(["tcp", "http", "udp", "https"])
            url = {"tcp": "tcp://127.0.0.1:0", "http": "http://127.0.0.1:0", "udp": "udp://127.0.0.1:0",
                   "https": "http://127.0.0.1:0"}[kind]
            lst = self.expect(lambda: mgr.listen(url), RuntimeError)
            addr = lst is not None and self.expect(lambda: lst.local_addr, RuntimeError)
            if addr:
                self.listeners[kind] = addr[1]
                if kind == "https":
                    self.expect(lambda: lst.tls_init(pm.TlsOpts(cert=self.cert[0], key=self.cert[1])),
                                RuntimeError)
        elif a == "connect":
            kind = rng.choice(list(self.listeners) + ["refused"])
            port = self.listeners.get(kind, 1)
            scheme = {"udp": "udp", "http": "http", "https": "http"}.get(kind, "tcp")
            cc = self.expect(lambda: mgr.connect(f"{scheme}://127.0.0.1:{port}"), RuntimeError)
            if cc is not None and kind == "https" and cc.id:
                self.expect(lambda: cc.tls_init(pm.TlsOpts(skip_verification=True)), RuntimeError)
        elif a == "peer":
            kind = rng.choice([k for k in self.listeners if k in ("tcp", "http")] or ["none"])
            if kind != "none" and len(self.peers) < 40:
                try:
                    p = Peer(self.listeners[kind], rng.choice(["read", "read", "stall", "reset", "halfclose"]),
                             rng, kind == "http")
                except OSError:
                    return  # the listener was closed meanwhile
                self.peers.append(p)
                if p.http:
                    p.write(rng.choice([b"GET /f.txt HTTP/1.1\r\nHost: x\r\n\r\n",
                                        b"GET / HTTP/1.1\r\n\r\n", b"GARBAGE\r\n\r\n",
                                        b"GET /f.txt HTTP/1.1\r\nRange: bytes=5-9\r\n\r\n"]))
                elif rng.random() < 0.5:
                    p.write(rng.randbytes(rng.randrange(1, 3000)))
        elif a == "raise":
            if in_handler:
                raise Deliberate("fuzz")
        elif a == "keyboard":
            if in_handler:
                raise KeyboardInterrupt
        elif a == "nested_poll":
            if in_handler:
                try:
                    mgr.poll(0)
                    self.note("nested poll() did not raise")
                except RuntimeError:
                    pass
        elif a == "thread_call":
            self.thread_call(in_handler, c)
        elif a == "thread_wakeup":
            t = threading.Thread(target=lambda: self.expect(lambda: mgr.wakeup(c.id, b"t"), RuntimeError))
            t.start()
            if rng.random() < 0.5:
                t.join()
            else:
                self.bg_threads.append(t)
        elif a == "thread_close":
            # Manager.close() from another thread while this one goes on: it
            # interrupts the running poll() and waits for this thread to leave.
            self.unverifiable.update(self.live)

            def close():
                try:
                    mgr.close()
                except KeyboardInterrupt:  # from an MG_EV_CLOSE handler, on purpose
                    pass
                except Exception as e:  # noqa: BLE001
                    self.note(f"Manager.close() from another thread raised {e!r}")

            t = threading.Thread(target=close)
            t.start()
            self.bg_threads.append(t)
        elif a == "mgr_close":
            self.unverifiable.update(self.live)
            self.expect(mgr.close, RuntimeError)
        elif a == "tls":
            self.unverifiable.add(c)  # handshake records go out too
            self.expect(lambda: c.tls_init(pm.TlsOpts(skip_verification=True)), RuntimeError)
        elif a == "poll":
            self.poll(rng.randrange(0, 5))

    def thread_call(self, in_handler, c):
        """A call from another thread: while this thread is inside the Manager
        it must raise RuntimeError naming the call; otherwise it may work."""
        mgr, rng = self.mgr, self.rng
        calls = [
            ("Manager.timer_add()", lambda: mgr.timer_add(1, self.timer_cb)),
            ("Connection.send()", lambda: c.send(b"t")),
            ("Manager.poll()", lambda: mgr.poll(0)),
            ("Manager.connections", lambda: mgr.connections),
            ("Connection.drain()", lambda: c.drain()),
            ("a Connection attribute", lambda: c.send_len),
        ]
        name, fn = rng.choice(calls)
        out = []

        def run():
            try:
                fn()
                out.append(None)
            except RuntimeError as e:
                out.append(str(e))
            except KeyboardInterrupt:  # raised on purpose by a handler that poll() ran
                out.append(None)
            except Exception as e:  # noqa: BLE001
                out.append(e)

        if name in ("Connection.send()",) and not in_handler:
            self.unverifiable.add(c)
        t = threading.Thread(target=run)
        t.start()
        t.join()
        if not out:
            self.note(f"{name} from another thread died")
            return
        res = out[0]
        if isinstance(res, Exception):
            self.note(f"{name} from another thread raised {res!r}")
        elif res is None and (c.id == 0 or c in self.closed or self.expect(lambda: c.is_closing, RuntimeError)):
            pass  # a closed wrapper (or one in its MG_EV_CLOSE) does not reach the engine
        elif in_handler and not (isinstance(res, str) and ("another thread" in res and res.startswith(name)
                                                            or "not reentrant" in res and name == "Manager.poll()")):
            if not (isinstance(res, str) and ("closed" in res or "freed" in res)):
                self.note(f"{name} from another thread while inside: {res!r} (on {c!r}, in_close="
                          f"{self.expect(lambda: c.is_closing, RuntimeError)}, owner {self.mgr._core.owner}, me {threading.get_ident()})")
        if name == "Connection.send()" and res is None and c in self.peer_of:
            self.unverifiable.add(c)

    def timer_cb(self):
        self.inside += 1
        try:
            if self.rng.random() < 0.5:
                self.random_action(in_handler=True)
        finally:
            self.inside -= 1

    def poll(self, ms):
        try:
            self.mgr.poll(ms)
        except KeyboardInterrupt:
            pass
        except RuntimeError as e:
            if "freed" not in str(e):
                self.note(f"poll() raised {e!r}")
        for p in self.peers:
            p.pump()

    def check_step(self):
        for c in list(self.live):
            if c.id == 0:
                self.note(f"{c!r} has id 0 but had no MG_EV_CLOSE")
                self.live.remove(c)
        for p in self.peers:
            if p.mode == "reset" and self.rng.random() < 0.3:
                p.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                p.sock.close()
                p.mode = "gone"
                p.eof = True
            elif p.mode == "halfclose" and self.rng.random() < 0.3:
                try:
                    p.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                p.mode = "read_after_half"

    def check_drained(self):
        """Every byte queued by send() on a drained connection whose peer kept
        reading arrived, in order, before EOF."""
        for c, p in self.peer_of.items():
            if c not in self.drained or c in self.unverifiable or p.mode != "read" or p.http:
                continue
            if c not in self.closed:
                continue
            if not p.eof:
                deadline = time.monotonic() + 10
                while not p.eof and time.monotonic() < deadline:
                    p.sock.setblocking(True)
                    p.sock.settimeout(0.5)
                    try:
                        b = p.sock.recv(65536)
                        if not b:
                            p.eof = True
                        p.got += b
                    except socket.timeout:
                        pass
                    except OSError:
                        p.reset_seen = True
                        p.eof = True
            want = self.sent.get(c, b"")
            self.verified += 1
            if p.reset_seen or bytes(p.got) != want:
                self.note(f"drained connection lost data: queued {len(want)} bytes, peer got {len(p.got)}"
                          f" (reset={p.reset_seen}, eof={p.eof})")

    def run(self):
        pm = self.pm
        self.bg_threads = []
        self.mgr = pm.Manager(self.handler, enable_wakeup=self.rng.random() < 0.7,
                              error_handler=self.error_handler)
        for _ in range(self.rng.randrange(1, 4)):
            self.step_no += 1
            self.random_action_top("listen")
        for i in range(self.steps):
            self.step_no = i
            faulthandler.dump_traceback_later(60, exit=True)
            try:
                self.random_action()
            except KeyboardInterrupt:
                pass
            self.poll(self.rng.choice([0, 0, 1, 2]))
            self.check_step()
            if self.mgr._core.freed:
                break
        # let drains finish, then close
        for _ in range(200):
            self.poll(2)
            if all(c in self.closed for c in self.drained):
                break
        for t in self.bg_threads:
            t.join(30)
            if t.is_alive():
                self.note("a thread calling the Manager hung")
                faulthandler.dump_traceback()
                os._exit(3)
        try:
            self.mgr.close()
        except KeyboardInterrupt:
            pass
        for p in self.peers:
            p.pump()
        self.check_drained()
        if self.live:
            self.note(f"{len(self.live)} wrappers never got MG_EV_CLOSE after Manager.close(): {self.live}")
        for p in self.peers:
            p.close()
        self.timers.clear()
        faulthandler.cancel_dump_traceback_later()

    def random_action_top(self, name):
        kind = self.rng.choice(["tcp", "http", "udp"])
        url = {"tcp": "tcp://127.0.0.1:0", "http": "http://127.0.0.1:0", "udp": "udp://127.0.0.1:0"}[kind]
        try:
            lst = self.mgr.listen(url)
        except KeyboardInterrupt:  # from its MG_EV_OPEN handler, on purpose
            return
        except RuntimeError as e:  # a handler closed the Manager
            if "freed" not in str(e):
                self.note(f"listen() raised {e!r}")
            return
        addr = lst.local_addr  # None when its MG_EV_OPEN handler closed it
        if addr:
            self.listeners[kind] = addr[1]


def stats():
    from pymongoose._gopy import pybind as go

    return dict((k, int(v)) for k, v in (kv.split("=") for kv in go.DebugStats().split()))


RUNTIME_PAIR = ["anon_inode:[eventfd]", "anon_inode:[eventpoll]"]


def leak_check(fds0, gor0):
    """No fd, Manager, connection handle or timer is left; goroutines return
    to the baseline (they exit asynchronously: wait a little). The Go
    runtime opens its netpoller (an eventpoll and an eventfd) once, on first
    use: that pair joins the baseline the first time it appears."""
    deadline = time.monotonic() + 10
    while True:
        s = stats()
        new_fds = fd_set() - fds0
        if sorted(link for _, link in new_fds) == RUNTIME_PAIR and not getattr(leak_check, "paired", False):
            leak_check.paired = True
            fds0 |= new_fds
            new_fds = set()
        if s["managers"] == 0 and s["conns"] == 0 and s["timers"] == 0 and not new_fds and s["goroutines"] <= gor0:
            return None
        if time.monotonic() > deadline:
            return f"leak after Manager.close(): {s}, goroutines at start {gor0}, new fds {sorted(new_fds)}"
        time.sleep(0.01)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, help="replay this one seed")
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    faulthandler.enable()
    import tempfile

    import pymongoose  # noqa: F401 - the Go runtime's own fds belong to the baseline

    cert = make_cert()
    tmp = tempfile.mkdtemp(prefix="pmg-fuzz-")
    with open(os.path.join(tmp, "f.txt"), "wb") as f:
        f.write(os.urandom(200000))
    with open(os.path.join(tmp, "index.html"), "wb") as f:
        f.write(b"<html>fuzz</html>")
    # Warm-up: the Go runtime's netpoller and threads are not leaks.
    m = pymongoose.Manager()
    m.listen("tcp://127.0.0.1:0")
    m.close()
    time.sleep(0.1)
    fds0, gor0 = fd_set(), stats()["goroutines"]
    seeds = [args.seed] if args.seed is not None else None
    start = time.monotonic()
    seed = args.first_seed
    n = steps = verified = 0
    while True:
        if seeds is not None:
            if not seeds:
                break
            seed = seeds.pop()
        elif time.monotonic() - start > args.seconds:
            break
        print(f"SEED {seed}", flush=True)
        d = Driver(seed, args.steps, cert, args.verbose)
        d.files = (os.path.join(tmp, "f.txt"), tmp)
        d.run()
        leak = leak_check(fds0, gor0)
        if leak:
            d.problems.append(leak)
        if d.problems:
            print(f"FINDING seed {seed}:", *d.problems[:20], sep="\n  ", flush=True)
            print(f"replay: cd tests && python test_api_fuzz.py --seed {seed}", flush=True)
            sys.exit(1)
        n += 1
        steps += d.step_no + 1
        verified += d.verified
        seed += 1
    print(f"DONE seeds={n} steps={steps} drains_verified={verified} seconds={time.monotonic() - start:.0f} first_seed={args.first_seed}",
          flush=True)


if __name__ == "__main__":
    main()
