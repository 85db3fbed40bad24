"""The shape of the built extension: one shared object, no libpython, gopy's
guardrails in place (docs/design.md section 3)."""

import gc
import os
import shutil
import subprocess
import sys

import pymongoose
import pymongoose._mongoose as native


def _extension_path() -> str:
    return native.__file__


def test_extension_is_the_compiled_submodule():
    assert _extension_path().endswith(".so")
    assert os.path.dirname(_extension_path()) == os.path.dirname(pymongoose.__file__)


def test_extension_does_not_link_libpython():
    # readelf comes with binutils, which gcc (needed to build) depends on.
    assert shutil.which("readelf"), "readelf (binutils) is needed"
    out = subprocess.run(["readelf", "-d", _extension_path()], capture_output=True, text=True,
                         check=True).stdout
    needed = [line for line in out.splitlines() if "NEEDED" in line]
    assert needed, out
    assert not any("libpython" in line for line in needed), needed


def test_one_go_shared_object_in_the_package():
    pkg_dir = os.path.dirname(pymongoose.__file__)
    shared = [f for root, _, files in os.walk(pkg_dir) for f in files if ".so" in f]
    assert shared == [os.path.basename(_extension_path())]


def test_gopy_gc_hook_removed():
    assert not [cb for cb in gc.callbacks if getattr(cb, "__name__", "") == "_gopy_gc_cb"]


def test_gopy_wrappers_are_private():
    public = [n for n in dir(pymongoose) if not n.startswith("_")]
    assert "NewManager" not in public and "Listen" not in public
    assert not [n for n in public if n.startswith("Slice_") or n == "go"]


def test_import_prints_nothing():
    code = "import pymongoose, pymongoose._mongoose"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.abspath(__file__)))
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and res.stderr == ""
