"""What a newcomer does: a fresh clone, a fresh virtual environment, the
README's first command run verbatim from the repository root (install, then
the demo server), an HTTP request to the demo, and Ctrl+C.

The clone is of the committed HEAD of the checkout these tests live in
(uncommitted changes are not part of it). The demo's port comes from the PORT
environment variable, which the README documents, so the command line itself
is the README's, character for character.
"""

import faulthandler
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
# pip install of the clone builds the Go extension (~45 s idle, minutes on a
# loaded machine): more than the suite's usual per-test limit.
NEWCOMER_LIMIT = 900


@pytest.fixture(autouse=True)
def _watchdog():
    """Overrides conftest's per-test limit for this module's builds."""
    faulthandler.dump_traceback_later(NEWCOMER_LIMIT + 60, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def readme_commands(readme: Path) -> list:
    """The ```sh blocks of the README's "The two commands" section."""
    text = readme.read_text()
    section = text.split("\n## The two commands\n", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def test_readme_has_the_two_commands():
    install_and_demo, test_suite = readme_commands(ROOT / "README.md")
    assert "\n" not in install_and_demo and "\n" not in test_suite
    assert "pip install ." in install_and_demo and "pymongoose" in install_and_demo.split("&&")[-1]
    assert test_suite == "make test"


class Output(threading.Thread):
    """Collects a pipe's lines; `found` is set when a line matches `pattern`
    (its match is kept) or at end of file."""

    def __init__(self, pipe, pattern=None):
        super().__init__(daemon=True)
        self.pipe, self.pattern = pipe, pattern
        self.lines, self.match = [], None
        self.found = threading.Event()
        self.start()

    def run(self):
        for line in self.pipe:
            self.lines.append(line)
            if self.match is None and self.pattern is not None:
                self.match = re.search(self.pattern, line)
                if self.match:
                    self.found.set()
        self.found.set()

    def text(self):
        return "".join(self.lines)


def fresh_clone(dest: Path) -> Path:
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "checkout", "-q", "--detach", head], check=True)
    return dest


def venv_env(venv: Path, **extra) -> dict:
    """The environment of a shell where `venv` has been activated."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env.update(extra)
    return env


def test_readme_install_and_demo_in_a_fresh_clone(tmp_path):
    assert shutil.which("git"), "git is needed"
    clone = fresh_clone(tmp_path / "clone")
    (command, _) = readme_commands(clone / "README.md")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    port = free_port()
    # A terminal: the command runs in its own process group, which Ctrl+C signals as a whole.
    proc = subprocess.Popen(["bash", "-c", command], cwd=clone, env=venv_env(venv, PORT=str(port)),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    out = Output(proc.stdout, r"serving on (http://\S+?)/? ")
    err = Output(proc.stderr)
    try:
        assert out.found.wait(NEWCOMER_LIMIT), "the demo did not start in time"
        assert out.match, f"the demo did not start:\n{out.text()[-3000:]}\n{err.text()[-3000:]}"
        base = out.match.group(1)
        assert base == f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/", timeout=10) as r:
            assert r.status == 200 and b"pymongoose-go is running" in r.read()
        with urllib.request.urlopen(f"{base}/api/status", timeout=10) as r:
            status = json.load(r)
        version = re.search(r'^version = "(.*)"$', (clone / "pyproject.toml").read_text(), re.M).group(1)
        assert status["server"] == "pymongoose-go" and status["version"] == version
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl+C
        assert proc.wait(timeout=30) == 0, err.text()[-3000:]
        out.join(10)
        err.join(10)
        assert "Traceback" not in err.text(), err.text()
        assert out.lines[-1].strip() == "stopping"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def source_copy(dest: Path) -> Path:
    """The pymongoose/ source folder as a fresh clone has it: Python files
    only, no compiled extension (an in-place build of this checkout may have one)."""
    pkg = dest / "pymongoose"
    pkg.mkdir(parents=True)
    for f in (ROOT / "pymongoose").iterdir():
        if f.suffix in (".py", ".pyi", ".typed"):
            shutil.copy(f, pkg / f.name)
    return dest


def test_source_folder_defers_to_the_installed_copy(tmp_path):
    """From a directory whose pymongoose/ is the bare source, the package
    still works: every submodule, __main__ included, comes from the installed copy."""
    import pymongoose._mongoose as installed

    where = source_copy(tmp_path)
    code = ("import pymongoose, pymongoose._mongoose as m, pymongoose.__main__ as d; "
            "print(pymongoose.__file__); print(m.__file__); print(d.__file__); "
            "print(pymongoose.Manager(None).listen('http://127.0.0.1:0').local_addr[1] > 0)")
    res = subprocess.run([sys.executable, "-c", code], cwd=where, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    init, ext, main, listened = res.stdout.split("\n")[:4]
    installed_dir = os.path.dirname(installed.__file__)
    assert init == str(where / "pymongoose" / "__init__.py")
    assert ext == installed.__file__
    assert os.path.dirname(main) == installed_dir
    assert listened == "True"


def test_source_folder_without_an_installed_copy_says_how_to_build(tmp_path):
    where = source_copy(tmp_path)
    # -S: no site-packages, so no installed copy either
    res = subprocess.run([sys.executable, "-S", "-c", "import pymongoose"], cwd=where, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 1
    assert "ImportError: pymongoose is not built" in res.stderr and "pip install ." in res.stderr


def test_console_script_runs_the_demo(tmp_path):
    """`pymongoose` (a console script of the package) is the demo server."""
    import sysconfig

    script = Path(sysconfig.get_path("scripts")) / "pymongoose"
    assert script.is_file(), f"{script} was not installed"
    proc = subprocess.Popen([str(script), "--port", "0"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        base = re.search(r"serving on (http://\S+?)/? ", proc.stdout.readline()).group(1)
        with urllib.request.urlopen(f"{base}/api/status", timeout=10) as r:
            assert json.load(r)["server"] == "pymongoose-go"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0 and out.strip() == "stopping" and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
