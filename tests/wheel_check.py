"""Checks that a built wheel installs and serves HTTP without Go.

    python3.X tests/wheel_check.py dist/pymongoose-...-cp3X-cp3X-linux_x86_64.whl

Run it with the interpreter the wheel is for (`make wheels` does, for each
wheel it builds); tests/test_packaging.py runs it for the wheel of the
interpreter running pytest. It needs nothing beyond the standard library.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

SERVER = """
from pymongoose import Manager, MG_EV_HTTP_MSG
def handler(conn, ev, data):
    if ev == MG_EV_HTTP_MSG:
        conn.reply(200, b'{"status":"ok"}', headers={"Content-Type": "application/json"})
        conn.drain()
manager = Manager(handler)
listener = manager.listen('http://127.0.0.1:0', http=True)
print(listener.local_addr[1], flush=True)
try:
    while True:
        manager.poll(100)
except KeyboardInterrupt:
    manager.close()
"""


def check_wheel_without_go(wheel: Path, work: Path) -> str:
    """Installs wheel into a fresh venv of this interpreter whose PATH has no
    Go, checks the installed version, serves three requests and stops on
    SIGINT with status 0. Returns the installed version."""
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(work)}
    assert shutil.which("go", path=env["PATH"]) is None, "go is on the reduced PATH"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-index", str(wheel)], check=True, env=env)
    version = subprocess.run([str(py), "-c", "import pymongoose; print(pymongoose.__version__)"], check=True,
                             capture_output=True, text=True, env=env, cwd=work).stdout.strip()
    show = subprocess.run([str(py), "-m", "pip", "show", "pymongoose"], check=True, capture_output=True,
                          text=True, env=env).stdout
    assert f"Version: {version}" in show, show
    proc = subprocess.Popen([str(py), "-c", SERVER], stdout=subprocess.PIPE, text=True, env=env, cwd=work,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        port = int(proc.stdout.readline())
        for _ in range(3):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
                assert r.read() == b'{"status":"ok"}'
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    return version


def main(wheels: list[str]) -> int:
    for wheel in wheels:
        with tempfile.TemporaryDirectory() as work:
            version = check_wheel_without_go(Path(wheel).resolve(), Path(work))
        print(f"{os.path.basename(wheel)}: installs and serves without Go (version {version})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
