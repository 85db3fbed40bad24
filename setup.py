"""Build pymongoose: the Go engine, gopy's bindings and the hand-written hot
path, linked into one CPython extension, pymongoose/_mongoose.*.so.

Steps (all driven from here, so `pip install .` is the only command):
1. build goimports (gopy runs it) from the version pinned in go.mod;
2. `go tool gopy gen` generates the cold-API bindings of ./pybind into
   build/_gopy/gobind (a leading underscore keeps `go ... ./...` out of it);
3. a first c-shared build writes the cgo export header pybindgen's C needs,
   then gopy's build.py (pybindgen) writes gobind.c;
4. `go build -buildmode=c-shared` links core, pybind (its C files + hot path)
   and gobind.c into the extension. It does not link libpython
   (gopy's -dynamic-link): symbols resolve against the running interpreter.
"""

import fcntl
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
GOPY_NAME = "gobind"


def run(cmd, cwd, env):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=str(cwd), env=env, check=True)


def go_env(tools_dir: Path) -> dict:
    if shutil.which("go") is None:
        sys.exit("pymongoose needs the Go toolchain (go 1.26+) on PATH to build from source")
    env = os.environ.copy()
    env["CGO_ENABLED"] = "1"
    env["CGO_CFLAGS"] = f"-I{sysconfig.get_paths()['include']} -O2"
    env["CGO_LDFLAGS_ALLOW"] = ".*"
    env["PATH"] = f"{tools_dir}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("GOFLAGS", "-buildvcs=false")
    return env


def strip_host_paths(go_file: Path) -> None:
    """gopy writes this machine's Python lib dir as -L/-rpath into the cgo
    LDFLAGS; the extension needs neither (no libpython is linked)."""
    text = go_file.read_text()
    text = re.sub(r"(?m)^#cgo LDFLAGS:.*$", "#cgo LDFLAGS: -shared", text)
    go_file.write_text(text)


def build_extension(target: Path, package_dirs: list) -> None:
    build = ROOT / "build"
    build.mkdir(exist_ok=True)
    # Concurrent builds of one tree (pip wheel next to pip install) share
    # build/_gopy: take turns.
    with open(build / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _build_extension(build, target, package_dirs)


def _build_extension(build: Path, target: Path, package_dirs: list) -> None:
    tools = build / "_tools"
    out = build / "_gopy" / GOPY_NAME
    tools.mkdir(parents=True, exist_ok=True)
    env = go_env(tools)
    run(["go", "build", "-o", tools / "goimports", "golang.org/x/tools/cmd/goimports"], ROOT, env)
    if out.exists():
        shutil.rmtree(out)
    run(["go", "tool", "gopy", "gen", "-no-make", f"-vm={sys.executable}", "-dynamic-link=true",
         f"-name={GOPY_NAME}", f"-output={out}", "./pybind"], ROOT, env)
    strip_host_paths(out / f"{GOPY_NAME}.go")
    run([tools / "goimports", "-w", f"{GOPY_NAME}.go"], out, env)
    run(["go", "build", "-buildmode=c-shared", "-o", f"{GOPY_NAME}_go.so", "."], out, env)
    run([sys.executable, "build.py"], out, env)
    target.parent.mkdir(parents=True, exist_ok=True)
    run(["go", "build", "-buildmode=c-shared", "-ldflags=-s -w", "-o", target, "."], out, env)
    target.with_suffix(".h").unlink(missing_ok=True)  # cgo's export header, not needed at run time
    for package_dir in package_dirs:
        gopy_pkg = package_dir / "_gopy"
        gopy_pkg.mkdir(parents=True, exist_ok=True)
        (gopy_pkg / "__init__.py").write_text('"""gopy-generated bindings of the cold API (private)."""\n')
        for name in ("pybind.py", "go.py"):
            shutil.copy(out / name, gopy_pkg / name)


class GoBuildExt(build_ext):
    def run(self):
        # setuptools clears `inplace` while it builds and copies only the
        # extension file back; the generated gopy wrappers must follow too.
        self._copy_wrappers_to_source = bool(self.inplace or self.editable_mode)
        super().run()

    def build_extension(self, ext):
        target = Path(self.get_ext_fullpath(ext.name)).resolve()
        dirs = [target.parent]
        if getattr(self, "_copy_wrappers_to_source", False):
            dirs.append(ROOT / "pymongoose")
        build_extension(target, dirs)


setup(
    ext_modules=[Extension("pymongoose._mongoose", sources=[])],
    cmdclass={"build_ext": GoBuildExt},
)
