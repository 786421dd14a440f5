"""What a benchmark figure was measured on: the CPU (model, family, SIMD flags) and the OpenBLAS
kernel family that ran, printed next to every figure.

This machine kind is not one CPU (Zen 2 with AVX2 at 2.0 GHz, Zen 5 with AVX-512, ...), and the
OpenBLAS kernels are not fixed by the CPU either: OPENBLAS_CORETYPE overrides OpenBLAS's own
choice (some hosts set it to Haswell because older OpenBLAS builds misbehave on newer CPUs), and
on a Zen 5 core Haswell's AVX2 sgemm runs at about half the speed of the AVX-512 one
(sgemm_ceiling.c, 1024^3, 1 thread: 125 against 230 GFLOP/s). ONNX Runtime and
PyTorch pick their own kernels, so a ratio means little without both lines.

Standard library only (run_bench.py runs without numpy).
"""
import ctypes
import ctypes.util
import os

SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "amx_tile")


def cpu_info():
    """{'model', 'family', 'model_number', 'cpus', 'simd': [flags]} from /proc/cpuinfo."""
    info = {"model": "unknown CPU", "family": "?", "model_number": "?", "cpus": os.cpu_count(), "simd": []}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name" and info["model"] == "unknown CPU":
                    info["model"] = value
                elif key == "cpu family" and info["family"] == "?":
                    info["family"] = value
                elif key == "model" and info["model_number"] == "?":
                    info["model_number"] = value
                elif key == "flags" and not info["simd"]:
                    flags = set(value.split())
                    info["simd"] = [f for f in SIMD_FLAGS if f in flags]
    except OSError:
        pass
    return info


def openblas_core():
    """The kernel family OpenBLAS runs in a process with this environment ('Haswell',
    'SkylakeX', ...), with ' (OPENBLAS_CORETYPE=...)' when the environment forces it."""
    forced = os.environ.get("OPENBLAS_CORETYPE")
    suffix = f" (OPENBLAS_CORETYPE={forced})" if forced else ""
    for name in ("libopenblas.so.0", ctypes.util.find_library("openblas")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode() + suffix
        except (OSError, AttributeError):
            continue
    return "unknown" + suffix


def cpu_summary(c=None):
    """'AMD EPYC (family 26 model 2; avx2 fma avx512f ...)' from cpu_info() (read when not given)."""
    c = c or cpu_info()
    return f"{c['model']} (family {c['family']} model {c['model_number']}; {' '.join(c['simd']) or 'no AVX2'})"


def describe():
    """One line: 'AMD EPYC (family 26 model 2; avx2 ...), 2 CPUs; OpenBLAS kernels Haswell'."""
    c = cpu_info()
    return f"{cpu_summary(c)}, {c['cpus']} CPUs; OpenBLAS kernels {openblas_core()}"


if __name__ == "__main__":
    print(describe())
