"""Build hook of the aecv package: builds libaecv.so with the repository's Makefile and bundles
it inside the package as aecv/_lib/libaecv.so.0, so that `pip install ./bindings/python` gives a
self-contained package (no environment variable, no system install).

Where the library comes from, in order:
  AECV_PREBUILT_LIBRARY=/path/to/libaecv.so.0   bundle this file, do not run make;
  AECV_REPO_ROOT=/path/to/libaecv               run `make -C $AECV_REPO_ROOT lib`;
  otherwise the repository that contains this directory (bindings/python/../..).

pip >= 21.3 builds a local directory in place, so ../.. is the repository; from an sdist or a
copied tree, set one of the variables above.
"""

import os
import shutil
import subprocess
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:
    from setuptools.errors import ExecError as _BuildError
except ImportError:  # setuptools < 59
    from distutils.errors import DistutilsExecError as _BuildError

HERE = Path(__file__).resolve().parent
SONAME = "libaecv.so.0"


def _repo_root() -> Path:
    explicit = os.environ.get("AECV_REPO_ROOT")
    root = Path(explicit).resolve() if explicit else HERE.parent.parent
    if not ((root / "Makefile").is_file() and (root / "include" / "aecv.h").is_file()):
        raise _BuildError(
            f"aecv: cannot find the libaecv source tree at {root} (no Makefile and "
            f"include/aecv.h there). The package builds libaecv from the repository that "
            f"contains bindings/python; pip >= 21.3 builds local directories in place. "
            f"Set AECV_REPO_ROOT=/path/to/libaecv, or AECV_PREBUILT_LIBRARY=/path/to/"
            f"libaecv.so.0 to bundle an already built library.")
    return root


def _build_library() -> Path:
    prebuilt = os.environ.get("AECV_PREBUILT_LIBRARY")
    if prebuilt:
        path = Path(prebuilt).resolve()
        if not path.is_file():
            raise _BuildError(f"aecv: AECV_PREBUILT_LIBRARY={prebuilt} is not a file")
        return path
    root = _repo_root()
    swift = os.environ.get("SWIFT", "swift")
    if shutil.which(swift) is None:
        raise _BuildError(
            f"aecv: building from source needs the Swift toolchain, and `{swift}` is not on "
            f"PATH. Install Swift (https://www.swift.org/install/) and retry, or install the "
            f"binary wheel instead, which needs no toolchain: `make -C {root} wheel` on a "
            f"machine with Swift, then `pip install dist/aecv-*.whl`. To bundle a library "
            f"built elsewhere, set AECV_PREBUILT_LIBRARY=/path/to/libaecv.so.0.")
    command = ["make", "-C", str(root), "lib"]
    print("aecv: building libaecv:", " ".join(command), flush=True)
    try:
        result = subprocess.run(command)
    except OSError as exc:
        raise _BuildError(f"aecv: cannot run {' '.join(command)}: {exc} (is make installed?)")
    if result.returncode != 0:
        raise _BuildError(
            f"aecv: building libaecv failed: `{' '.join(command)}` exited with status "
            f"{result.returncode} (its output is above; run pip with -v to see it). It needs a "
            f"Swift toolchain and OpenBLAS (apt-get install libopenblas-dev); `make -C {root} "
            f"lib` reproduces the failure outside pip.")
    built = root / "build" / "lib" / SONAME
    if not built.exists():
        raise _BuildError(f"aecv: `make lib` succeeded but {built} does not exist")
    return built.resolve()  # the real file behind the .so.0 link, e.g. libaecv.so.0.1.0


class BuildPyWithLibrary(build_py):
    """build_py that also puts libaecv.so.0 into aecv/_lib/ of the build (or, for an editable
    install, of the source tree)."""

    def run(self):
        super().run()
        library = _build_library()
        if getattr(self, "editable_mode", False):
            target_dir = HERE / "aecv" / "_lib"
        else:
            target_dir = Path(self.build_lib) / "aecv" / "_lib"
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / SONAME
        # A regular file (wheels cannot hold symlinks), replaced by rename: rewriting a library
        # in place crashes (SIGBUS) any process that has it mapped, e.g. an editable install.
        partial = target_dir / (SONAME + ".partial")
        shutil.copyfile(library, partial)
        os.chmod(partial, 0o755)
        os.replace(partial, target)
        self._bundled = [str(target)]
        print(f"aecv: bundled {library} as {target}", flush=True)

    def get_outputs(self, include_bytecode=True):
        return super().get_outputs(include_bytecode) + getattr(self, "_bundled", [])


cmdclass = {"build_py": BuildPyWithLibrary}


class BinaryDistribution(Distribution):
    """The package holds a native library: install it into platlib (the wheel's root), not
    purelib. auditwheel refuses shared libraries under <name>.data/purelib/."""

    def has_ext_modules(self):
        return True

# The wheel holds a native library: tag it for this platform (py3-none-linux_x86_64), not "any".
try:
    from setuptools.command.bdist_wheel import bdist_wheel as _bdist_wheel
except ImportError:
    try:
        from wheel.bdist_wheel import bdist_wheel as _bdist_wheel
    except ImportError:
        _bdist_wheel = None

if _bdist_wheel is not None:
    class PlatformWheel(_bdist_wheel):
        def finalize_options(self):
            super().finalize_options()
            self.root_is_pure = False

        def get_tag(self):
            _, _, platform = super().get_tag()
            return "py3", "none", platform

    cmdclass["bdist_wheel"] = PlatformWheel

setup(cmdclass=cmdclass, distclass=BinaryDistribution)
