"""The wheel installs and works on a machine without Go (issue: packaging)."""

import importlib.metadata
import os
import re
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def test_wheel_works_without_go(wheel):
    """The wheel installs into a fresh venv without Go on PATH and serves
    (tests/wheel_check.py, which `make wheels` runs for every wheel)."""
    res = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "wheel_check.py"), str(wheel)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"{wheel.name}: installs and serves without Go (version {importlib.metadata.version('pymongoose')})"


def test_wheel_declares_the_supported_pythons(wheel):
    """Requires-Python and the classifiers name exactly the versions `make
    test-matrix` tests (SUPPORTED_PYTHONS in the Makefile)."""
    with open(os.path.join(ROOT, "Makefile")) as f:
        supported = re.search(r"^SUPPORTED_PYTHONS := (.*)$", f.read(), re.M).group(1).split()
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert f"Requires-Python: >={supported[0]}" in meta
    classified = re.findall(r"^Classifier: Programming Language :: Python :: (3\.\d+)$", meta, re.M)
    assert classified == supported
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in supported
