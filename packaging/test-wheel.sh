#!/usr/bin/env bash
# test-wheel: the binary wheel works where there is no Swift toolchain and no OpenBLAS dev package.
#   packaging/test-wheel.sh PYTHON WHEEL
# 1. `auditwheel show` must report the platform tag that the file name carries.
# 2. A fresh venv, PATH without any directory holding `swift`, AECV_LIBRARY unset, run from an
#    empty directory (so the source tree cannot be imported): pip install the wheel, run the
#    README's Python quick start verbatim, then check that the library and OpenBLAS that got
#    loaded are the copies inside the venv (aecv/_lib, aecv.libs), not the system's.
set -euo pipefail
python=$1 wheel=$2
root=$(pwd)
real_python=$("$python" -c 'import sys; print(sys.executable)')  # pyenv shims need PATH
work=$root/build/wheel/test
rm -rf "$work" && mkdir -p "$work/run"

show=$("$python" -m auditwheel show "$wheel")
tag=$(printf '%s\n' "$show" | tr '\n' ' ' | sed -n 's/.*following platform tag: *"\([^"]*\)".*/\1/p')
[ -n "$tag" ] || { echo "test-wheel: auditwheel show printed no platform tag:"; echo "$show"; exit 1; }
case "$(basename "$wheel")" in
    *-"$tag".whl) echo "test-wheel: auditwheel verifies the file's platform tag $tag" ;;
    *) echo "test-wheel: $(basename "$wheel") does not carry the tag auditwheel verifies ($tag)"; exit 1 ;;
esac

"$python" -m venv "$work/venv"
clean_path=""
IFS=: read -ra dirs <<< "$PATH"
for d in "${dirs[@]}"; do
    [ -x "$d/swift" ] || [ -x "$d/swiftc" ] || clean_path="${clean_path:+$clean_path:}$d"
done
export PATH="$work/venv/bin:$clean_path"
unset AECV_LIBRARY AECV_PREBUILT_LIBRARY PYTHONPATH VIRTUAL_ENV
if command -v swift >/dev/null; then echo "test-wheel: swift is still on PATH"; exit 1; fi
venv_python=$work/venv/bin/python

# The source package on the same machine without swift: a clear message, not a make failure.
if [ -n "$real_python" ] && "$real_python" -c 'import setuptools, wheel' 2>/dev/null; then
    if out=$(AECV_REPO_ROOT=$root "$real_python" -m pip wheel --no-deps --no-build-isolation \
                 -w "$work/sdist" "$root/bindings/python" 2>&1); then
        echo "test-wheel: building from source without swift succeeded?"; exit 1
    fi
    printf '%s\n' "$out" | grep -q "building from source needs the Swift toolchain" \
        || { echo "test-wheel: no clear message without swift:"; printf '%s\n' "$out" | tail -20; exit 1; }
    echo "test-wheel: pip install ./bindings/python without swift says: $(printf '%s\n' "$out" \
        | grep -o 'building from source needs the Swift toolchain[^.]*')"
fi
"$venv_python" -m pip install -q "$wheel"

# The README's Python quick start, exactly as written.
awk '/^## Python/{p=1; next} p && /^```python/{q=1; next} q && /^```/{exit} q' README.md \
    > "$work/run/quickstart.py"
[ -s "$work/run/quickstart.py" ] || { echo "test-wheel: no Python quick start in README.md"; exit 1; }
cat >> "$work/run/quickstart.py" <<'PY'

# Checks: the quick start produced what it says, from the libraries inside the venv.
import os, sys
assert codes.shape == (1000, 1024), codes.shape
assert recon.shape == X.shape and np.isfinite(recon).all()
assert os.path.getsize("conv.aecv") > 0
venv = sys.prefix
assert aecv.library_path().startswith(venv), aecv.library_path()
maps = {line.split()[-1] for line in open("/proc/self/maps") if "/" in line}
blas = sorted(p for p in maps if "openblas" in p and "/numpy.libs/" not in p)  # numpy has its own
assert blas and all(p.startswith(venv) and "/aecv.libs/" in p for p in blas), blas
print(f"test-wheel: quick start ran; libaecv {aecv.library_version()} from {aecv.library_path()}, "
      f"OpenBLAS from {blas[0]}")
PY
cd "$work/run" && "$venv_python" quickstart.py
echo "test-wheel: PASSED ($(basename "$wheel") in a fresh venv without swift on PATH)"
