"""The wheel installs and works on a machine without Go (issue: packaging)."""

import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SEED = """
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


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), ROOT],
                   check=True, capture_output=True)
    (whl,) = out.glob("pymongoose-*.whl")
    return whl


def test_sdist_builds_a_working_wheel(tmp_path):
    """The sdist carries everything a build needs (Go present): sources, go.mod, go.sum."""
    sdist_dir, wheel_dir = tmp_path / "sdist", tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "build", "--sdist", "-o", str(sdist_dir), ROOT], check=True,
                   capture_output=True)
    (sdist,) = sdist_dir.glob("pymongoose-*.tar.gz")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(sdist)],
                   check=True, capture_output=True)
    (whl,) = wheel_dir.glob("pymongoose-*.whl")
    names = zipfile.ZipFile(whl).namelist()
    assert [n for n in names if n.startswith("pymongoose/_mongoose.") and n.endswith(".so")]


def test_wheel_tags_and_contents(wheel):
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    assert re.search(rf"-{tag}-{tag}-linux_x86_64\.whl$", wheel.name), wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    assert "pymongoose/py.typed" in names and "pymongoose/_mongoose.pyi" in names
    assert [n for n in names if n.startswith("pymongoose/_mongoose.") and n.endswith(".so")]
    assert "pymongoose/_gopy/pybind.py" in names


def test_wheel_works_without_go(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    assert shutil.which("go", path=env["PATH"]) is None
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-index", str(wheel)], check=True, env=env)
    ver = subprocess.run([str(py), "-c", "import pymongoose; print(pymongoose.__version__)"],
                         check=True, capture_output=True, text=True, env=env, cwd=tmp_path).stdout.strip()
    show = subprocess.run([str(py), "-m", "pip", "show", "pymongoose"], check=True, capture_output=True,
                          text=True, env=env).stdout
    assert f"Version: {ver}" in show
    proc = subprocess.Popen([str(py), "-c", SEED], stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
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
