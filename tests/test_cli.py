"""The server command: ``python -m pymongoose.asgi|wsgi module:app`` and the
``pymongoose`` console script, in one process or with ``--workers N``
processes sharing the port. Every server runs as a subprocess on a free
port; readiness and exits are polled, never timed."""

import datetime
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from pymongoose._manager import LIMITS

APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WAIT = 30.0  # upper bound of every wait below; none is a timing assertion
# `pymongoose ARGS...` as the console script runs it (pymongoose._cli:main)
SCRIPT = ["-c", "import sys; from pymongoose._cli import main; sys.exit(main())"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, path="/", body=None, method="GET", tls=None):
    """One request on a fresh connection: (status, JSON or bytes)."""
    if tls is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    else:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=WAIT, context=tls)
    try:
        conn.request(method, path, body=body, headers={"Connection": "close"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.getheader("Content-Type") == "application/json":
            data = json.loads(data)
        return resp.status, data
    finally:
        conn.close()


def gone(pid):
    """True once ``pid`` has exited (a zombie has exited too)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:  # no such process (any more)
        return True


def children(pid):
    """Live processes whose parent is ``pid``."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
                found.add(int(entry))
    return found


def wait_until(cond, what):
    deadline = time.monotonic() + WAIT
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class Server:
    """A server command running in its own session (so a signal sent to its
    process group is what Ctrl+C in a terminal sends)."""

    def __init__(self, tmp_path, args, port=None, module=("-m", "pymongoose.asgi"), app_dir=APPS):
        self.port = free_port() if port is None else port
        self.dir = tmp_path
        self.out = open(tmp_path / "stdout.txt", "w+")
        self.err = open(tmp_path / "stderr.txt", "w+")
        env = dict(os.environ, CLI_TEST_DIR=str(tmp_path))
        self.proc = subprocess.Popen(
            [sys.executable, *module, *args, "--app-dir", app_dir, "--port", str(self.port)],
            cwd=tmp_path, env=env, stdout=self.out, stderr=self.err, stdin=subprocess.DEVNULL,
            start_new_session=True)

    def stderr(self):
        self.err.seek(0)
        return self.err.read()

    def wait_ready(self, tls=None):
        def up():
            assert self.proc.poll() is None, f"server exited {self.proc.returncode}: {self.stderr()}"
            try:
                status, answer = request(self.port, tls=tls)
            except (OSError, http.client.HTTPException):
                return False
            # ours, not another program that took the port after free_port()
            return status == 200 and answer["pid"] in {self.proc.pid} | self.workers()

        wait_until(up, "the server to answer")

    def workers(self):
        return children(self.proc.pid)

    def pids_serving(self, count):
        """The pids answering on fresh connections, until ``count`` are seen.
        SO_REUSEPORT spreads connections by a hash of their addresses, so
        enough connections reach every worker."""
        pids = set()
        deadline = time.monotonic() + WAIT  # a worker may still be starting
        while len(pids) < count and time.monotonic() < deadline:
            pids.add(request(self.port)[1]["pid"])
        return pids

    def stop(self, sig=signal.SIGINT, group=False):
        if group:
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=WAIT + 35)

    def close(self):
        workers = self.workers()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in workers:  # in their own sessions
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.out.close()
        self.err.close()


@pytest.fixture
def serve(tmp_path):
    started = []

    def start(*args, **kw):
        server = Server(tmp_path, args, **kw)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def run_cli(args, module=("-m", "pymongoose.asgi")):
    """A command that must end by itself, run from tests/apps: (exit status, stderr)."""
    with tempfile.TemporaryDirectory() as test_dir:
        res = subprocess.run([sys.executable, *module, *args], cwd=APPS, capture_output=True, text=True,
                             timeout=WAIT + 35, stdin=subprocess.DEVNULL,
                             env=dict(os.environ, CLI_TEST_DIR=test_dir))
    return res.returncode, res.stderr


# -- serving in one process ----------------------------------------------------

def test_asgi_app_served_in_process(serve):
    server = serve("cli_apps:app")
    server.wait_ready()
    status, answer = request(server.port, "/items?x=1")
    assert status == 200
    assert answer["pid"] == server.proc.pid  # --workers 1: no supervisor
    assert answer["path"] == "/items"
    assert server.workers() == set()
    assert server.stop(signal.SIGINT) == 0


def test_wsgi_app_served_in_process_with_threads(serve):
    server = serve("cli_apps:wsgi", "--threads", "2", module=("-m", "pymongoose.wsgi"))
    server.wait_ready()
    status, answer = request(server.port, "/upload", body=b"x" * 1000, method="POST")
    assert (status, answer["pid"], answer["body_size"]) == (200, server.proc.pid, 1000)
    assert server.stop(signal.SIGTERM) == 0


def test_wsgi_app_on_the_poll_thread(serve):
    server = serve("cli_apps:wsgi", "--threads", "0", module=("-m", "pymongoose.wsgi"))
    server.wait_ready()
    assert request(server.port, "/x")[1]["path"] == "/x"
    assert server.stop() == 0


@pytest.mark.parametrize("lifespan, ran", [("on", True), ("off", False)])
def test_lifespan_option(serve, tmp_path, lifespan, ran):
    server = serve("cli_apps:app", "--lifespan", lifespan)
    server.wait_ready()
    assert server.stop() == 0
    assert (tmp_path / f"shutdown-{server.proc.pid}").exists() == ran


def test_factory(serve):
    server = serve("cli_apps:make_app", "--factory")
    server.wait_ready()
    assert request(server.port)[1]["pid"] == server.proc.pid
    assert server.stop() == 0


def test_root_path(serve):
    server = serve("cli_apps:app", "--root-path", "/api")
    server.wait_ready()
    assert request(server.port, "/api/items")[1]["root_path"] == "/api"
    assert server.stop() == 0


def test_manager_limit_option(serve):
    server = serve("cli_apps:app", "--max-body-size", "100")
    server.wait_ready()
    assert request(server.port, "/", body=b"x" * 100, method="POST")[1]["body_size"] == 100
    assert request(server.port, "/", body=b"x" * 101, method="POST")[0] == 413
    assert server.stop() == 0


def self_signed(tmp_path):
    """A self-signed certificate for 127.0.0.1: (cert file, key file, DER)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file), cert.public_bytes(serialization.Encoding.DER)


def test_tls_files_serve_https(serve, tmp_path):
    cert_file, key_file, der = self_signed(tmp_path)
    server = serve("cli_apps:app", "--ssl-certfile", cert_file, "--ssl-keyfile", key_file)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    server.wait_ready(tls=ctx)
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as raw:
        with ctx.wrap_socket(raw) as tls:
            assert tls.getpeercert(binary_form=True) == der  # the certificate given on the command line
    assert server.stop() == 0


def test_console_script_subcommands(serve):
    server = serve("wsgi", "cli_apps:wsgi", module=SCRIPT)
    server.wait_ready()
    assert request(server.port)[1]["pid"] == server.proc.pid
    assert server.stop() == 0


def test_console_script_without_subcommand_runs_the_demo(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, *SCRIPT, "--port", str(port)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        def up():
            assert proc.poll() is None, proc.stderr.read()
            try:
                return request(port, "/api/status")[1]["server"] == "pymongoose-go"
            except OSError:
                return False

        wait_until(up, "the demo server")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def test_console_script_usage():
    res = subprocess.run([sys.executable, *SCRIPT, "--help"], capture_output=True, text=True, timeout=WAIT)
    assert res.returncode == 0
    for usage in ("pymongoose asgi APP", "pymongoose wsgi APP", "pymongoose [demo]"):
        assert usage in res.stdout
    status, err = run_cli(["serve", "x:y"], module=SCRIPT)
    assert status == 2
    assert "unknown command 'serve'" in err


# -- errors ----------------------------------------------------------------------

def test_help_lists_every_option():
    for module, only in ((("-m", "pymongoose.asgi"), "--lifespan"), (("-m", "pymongoose.wsgi"), "--threads")):
        res = subprocess.run([sys.executable, *module, "--help"], capture_output=True, text=True, timeout=WAIT)
        assert res.returncode == 0
        options = ["--host", "--port", "--workers", "--factory", "--root-path", "--log-level", "--ssl-certfile",
                   "--ssl-keyfile", "--app-dir", "--timeout-graceful-shutdown", only]
        options += ["--" + name.replace("_", "-") for name, _ in LIMITS]
        for option in options:
            assert option in res.stdout, option
        for name, default in LIMITS:  # the defaults shown are Manager()'s
            assert f"(default: {default})" in res.stdout


@pytest.mark.parametrize("args, message", [
    (["cli_apps"], 'must be in format "<module>:<attribute>"'),
    (["cli_apps:"], 'must be in format "<module>:<attribute>"'),
    (["cli_apps:app", "--port", "70000"], "--port"),
    (["cli_apps:app", "--workers", "0"], "--workers"),
    (["cli_apps:app", "--max-body-size", "-1"], "--max-body-size"),
    (["cli_apps:app", "--head-timeout-ms", "soon"], "--head-timeout-ms"),
    (["cli_apps:app", "--lifespan", "maybe"], "--lifespan"),
    (["cli_apps:app", "--log-level", "loud"], "--log-level"),
    (["cli_apps:app", "--threads", "2"], "unrecognized arguments: --threads"),
    (["cli_apps:app", "--ssl-certfile", __file__], "--ssl-certfile and --ssl-keyfile go together"),
    (["cli_apps:app", "--ssl-certfile", "nope.pem", "--ssl-keyfile", "nope.key"], "no such file"),
    (["cli_apps:app", "--app-dir", "nowhere"], "--app-dir 'nowhere' is not a directory"),
])
def test_usage_errors_exit_2(args, message):
    status, err = run_cli(args)
    assert status == 2
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("spec, message", [
    ("no_such_module:app", 'Could not import module "no_such_module".'),
    ("cli_apps:nothing", 'Attribute "nothing" not found in module "cli_apps".'),
    ("cli_apps:not_callable", '"cli_apps:not_callable" is not a callable application'),
])
def test_app_that_cannot_load_exits_1_in_one_line(spec, message, workers):
    status, err = run_cli([spec, "--port", str(free_port()), "--workers", workers])
    assert status == 1
    assert message in err
    assert "Traceback" not in err
    assert "restarting" not in err  # workers: the supervisor gives up at once


def test_error_inside_the_app_module_shows_its_traceback():
    status, err = run_cli(["broken_import:app", "--port", str(free_port())])
    assert status == 1
    assert "Traceback" in err and "boom at import" in err


@pytest.mark.parametrize("workers", ["1", "2"])
def test_port_in_use_exits_1(workers):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        status, err = run_cli(["cli_apps:app", "--port", str(taken.getsockname()[1]), "--workers", workers])
    assert status == 1
    assert "Traceback" not in err
    assert err.strip()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_failed_lifespan_startup_exits_1(workers):
    status, err = run_cli(["cli_apps:failing_startup", "--port", str(free_port()), "--workers", workers])
    assert status == 1
    assert "restarting" not in err


# -- several worker processes ------------------------------------------------------

def test_workers_share_the_port(serve):
    server = serve("cli_apps:app", "--workers", "2")
    server.wait_ready()
    workers = server.workers()
    assert len(workers) == 2
    assert server.pids_serving(2) == workers  # each worker answers; the supervisor does not
    for pid in workers:  # fresh interpreters (fork + exec), not forked copies of the supervisor
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert b"pymongoose._worker" in f.read()
    assert server.stop() == 0
    assert all(gone(pid) for pid in workers)


def test_wsgi_workers_share_the_port(serve):
    server = serve("cli_apps:wsgi", "--workers", "2", module=("-m", "pymongoose.wsgi"))
    server.wait_ready()
    assert server.pids_serving(2) == server.workers()
    assert server.stop() == 0


@pytest.mark.parametrize("server, app", [("asgi", "examples.app:app"), ("wsgi", "examples.wsgi_app:app")])
def test_the_examples_with_two_workers(serve, server, app):
    # the README's `python -m pymongoose.asgi examples.app:app --workers 2`
    server = serve(app, "--workers", "2", module=("-m", f"pymongoose.{server}"), app_dir=ROOT)
    server.wait_ready()
    status, answer = request(server.port, "/hi")
    assert (status, answer["hello"], answer["path"]) == (200, "world", "/hi")
    assert server.pids_serving(2) == server.workers()
    assert server.stop(signal.SIGINT, group=True) == 0


def test_killed_worker_is_restarted_and_no_request_is_refused(serve):
    server = serve("cli_apps:app", "--workers", "2")
    server.wait_ready()
    first = server.pids_serving(2)
    victim = min(first)
    failures = []
    served_by = set()

    def ask():
        try:
            served_by.add(request(server.port)[1]["pid"])
        except OSError as exc:
            failures.append(exc)

    for _ in range(20):
        ask()
    # Between two requests, so no connection of this client is in flight to
    # the victim: requests are answered by the other worker meanwhile.
    os.kill(victim, signal.SIGKILL)
    # Reaped by the supervisor, so all its threads are gone and its listener
    # closed (a zombie leader's threads may still hold it, and a connection
    # queued there would be reset: that is the kill, not the supervisor).
    wait_until(lambda: not os.path.exists(f"/proc/{victim}"), "the supervisor to reap the killed worker")

    def replaced():
        ask()
        return len(server.workers() - first) == 1

    wait_until(replaced, "a new worker")
    (new,) = server.workers() - first
    deadline = time.monotonic() + WAIT
    while new not in served_by:  # the new worker shares the port too
        assert time.monotonic() < deadline, "the new worker never answered"
        ask()
    assert failures == []
    assert f"worker process {victim} was killed by SIGKILL; restarting it" in server.stderr()
    assert server.stop() == 0


def test_workers_stop_when_the_supervisor_is_killed(serve):
    server = serve("cli_apps:app", "--workers", "2")
    server.wait_ready()
    workers = server.workers()
    server.proc.kill()
    server.proc.wait()
    wait_until(lambda: all(gone(pid) for pid in workers), "orphaned workers to stop")


@pytest.mark.parametrize("module, app, workers, sig, group", [
    ("pymongoose.asgi", "cli_apps:app", "1", signal.SIGINT, True),
    ("pymongoose.asgi", "cli_apps:app", "2", signal.SIGTERM, False),
    ("pymongoose.asgi", "cli_apps:app", "2", signal.SIGINT, True),
    ("pymongoose.wsgi", "cli_apps:wsgi", "2", signal.SIGTERM, False),
], ids=["asgi-1-ctrl-c", "asgi-2-sigterm", "asgi-2-ctrl-c", "wsgi-2-sigterm"])
def test_stop_answers_the_request_in_flight(serve, tmp_path, module, app, workers, sig, group):
    server = serve(app, "--workers", workers, module=("-m", module))
    server.wait_ready()
    workers_before = server.workers()
    assert server.pids_serving(max(1, len(workers_before))) == (workers_before or {server.proc.pid})
    answer = {}

    def fetch():
        try:
            answer["result"] = request(server.port, "/slow")
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            answer["error"] = exc

    client = threading.Thread(target=fetch)
    client.start()
    wait_until(lambda: any(p.name.startswith("started-") for p in tmp_path.iterdir()), "the slow request")
    if group:
        os.killpg(server.proc.pid, sig)  # what Ctrl+C in a terminal does
    else:
        server.proc.send_signal(sig)

    def refused():  # the listeners close first
        try:
            request(server.port)
        except ConnectionRefusedError:
            return True
        except OSError:
            pass
        return False

    wait_until(refused, "the listeners to close")
    assert client.is_alive()  # the request in flight is still waiting for the app
    (tmp_path / "release").touch()
    client.join(WAIT)
    assert "error" not in answer, answer
    status, body = answer["result"]
    assert (status, body["path"]) == (200, "/slow")
    assert server.proc.wait(timeout=WAIT) == 0, server.stderr()
    assert all(gone(pid) for pid in workers_before)
    if module == "pymongoose.asgi":  # every process ran the lifespan shutdown
        pids = workers_before or {server.proc.pid}
        assert {p.name for p in tmp_path.iterdir() if p.name.startswith("shutdown-")} == \
            {f"shutdown-{pid}" for pid in pids}
