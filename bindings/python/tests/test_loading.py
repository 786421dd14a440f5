"""Finding and loading libaecv: lookup order, error listing, version check."""

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import sys

import pytest

import aecv
from aecv import _ffi

from conftest import SOURCE_DIR


def _import_in_subprocess(env_updates):
    env = dict(os.environ, **env_updates)
    code = f"import sys; sys.path.insert(0, {SOURCE_DIR!r}); import aecv"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


def test_versions():
    assert aecv.__version__ == "0.1.0"
    assert aecv.library_version().split(".")[0] == "0"
    number = _ffi.lib.aecv_version_number()
    assert number // 10000 == 0
    assert aecv.library_version().startswith(
        f"{number // 10000}.{number // 100 % 100}.{number % 100}")


def test_library_path_is_the_one_asked_for():
    explicit = os.environ.get("AECV_LIBRARY")
    if explicit:
        assert aecv.library_path() == explicit
    else:
        assert aecv.library_path() in (_ffi._BUNDLED, _ffi._SONAME) or "aecv" in \
            aecv.library_path()


def test_cdll_releases_the_gil():
    # ctypes.CDLL functions release the GIL during the call; ctypes.PyDLL ones would not.
    assert isinstance(_ffi.lib, ctypes.CDLL) and not isinstance(_ffi.lib, ctypes.PyDLL)


def test_every_function_is_declared_once_with_types():
    for name, (restype, argtypes, _) in _ffi._FUNCTIONS.items():
        fn = getattr(_ffi.lib, name)
        assert fn.restype is restype, name
        assert fn.argtypes == argtypes, name
        assert _ffi.has(name)
    assert not _ffi.has("aecv_no_such_function")


def test_explicit_library_that_does_not_exist():
    result = _import_in_subprocess({"AECV_LIBRARY": "/nonexistent/libaecv.so.0"})
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "AECV_LIBRARY: /nonexistent/libaecv.so.0" in result.stderr
    # An explicit choice is not silently replaced by another copy.
    assert "bundled copy" not in result.stderr


def test_every_place_tried_is_listed():
    with pytest.raises(ImportError) as info:
        _ffi._load([("bundled copy", "/nonexistent/a/libaecv.so.0"),
                    ("system loader", "libaecv-does-not-exist.so.0")])
    text = str(info.value)
    assert "bundled copy: /nonexistent/a/libaecv.so.0" in text
    assert "system loader: libaecv-does-not-exist.so.0" in text
    assert "ctypes.util.find_library('aecv')" in text


def test_a_library_that_is_not_libaecv():
    libm = ctypes.util.find_library("m")
    if libm is None:
        pytest.skip("no libm found to stand in for a foreign library")
    with pytest.raises(ImportError, match="not a libaecv library"):
        _ffi._load([("AECV_LIBRARY", libm)])


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler (cc) for a fake lib")
def test_a_library_with_another_major_version(tmp_path):
    source = tmp_path / "v1.c"
    source.write_text("unsigned aecv_version_number(void) { return 10203; }\n")
    library = tmp_path / "libaecv.so.1"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    with pytest.raises(ImportError) as info:
        _ffi._load([("AECV_LIBRARY", str(library))])
    text = str(info.value)
    assert "libaecv 1.2.3 has major version 1" in text
    assert "major version 0" in text
    result = _import_in_subprocess({"AECV_LIBRARY": str(library)})
    assert result.returncode != 0 and "major version 1" in result.stderr

