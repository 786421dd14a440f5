#!/usr/bin/env python3
"""`make bench-onnx`: libaecv inference against ONNX Runtime on libaecv's own ONNX export of the
same model, side by side in one process, with the ratio and the load average.

    AECV_LIBRARY=build/lib/libaecv.so.0.1.0 PYTHONPATH=bindings/python \
        python3 tools/bench/bench_onnx.py [--seconds 2] [--repeats 5] [--models conv,dense,vae]

Both sides are called from Python on the same preallocated float32 batch: libaecv through its
ctypes binding (transform = aecv_model_encode, reconstruct = aecv_model_reconstruct), ONNX
Runtime through InferenceSession.run on the encoder / autoencoder export. Both run at 1 and
2 threads (libaecv: aecv.set_num_threads; ONNX Runtime: intra-op threads), the best of each
taken and its thread count printed. Each measurement is the median
of --repeats windows of --seconds, windows of the two sides alternating. Rows: one image
(latency, us) and a batch of 64 (throughput, images/s). Timing is never asserted anywhere.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import machine  # noqa: E402  (tools/bench/machine.py)

import aecv
import onnxruntime as ort


def rate(fn, seconds):
    """Calls per second of fn over a window of `seconds` (after 3 warm-up calls)."""
    for _ in range(3):
        fn()
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def measure(pairs, seconds, repeats):
    """pairs: {name: (setup, fn)}; windows alternate between the functions, setup() (or None)
    running before each window of its fn. Median calls/s per name."""
    windows = {k: [] for k in pairs}
    for _ in range(repeats):
        for k, (setup, fn) in pairs.items():
            if setup is not None:
                setup()
            windows[k].append(rate(fn, seconds))
    return {k: statistics.median(v) for k, v in windows.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", default="conv,dense,vae")
    args = parser.parse_args()
    aecv.set_num_threads(1)
    load_before = open("/proc/loadavg").read().split()[:3]
    print(f"bench-onnx: libaecv {aecv.library_version()} vs onnxruntime {ort.__version__}, "
          f"{machine.describe()}, load average before: {' '.join(load_before)}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            m = aecv.Autoencoder(name, seed=0)
            sessions = {}
            for part in ("encoder", "autoencoder"):
                path = os.path.join(tmp, f"{name}-{part}.onnx")
                m.export_onnx(path, part=part)
                for threads in (1, 2):
                    o = ort.SessionOptions()
                    o.intra_op_num_threads = threads
                    o.inter_op_num_threads = 1
                    sessions[part, threads] = ort.InferenceSession(
                        path, o, providers=["CPUExecutionProvider"])
            for batch in (1, 64):
                x = np.random.default_rng(batch).random((batch, 1, 28, 28), dtype=np.float32)
                for op, part, ours in (("encode", "encoder", m.transform),
                                       ("reconstruct", "autoencoder", m.reconstruct)):
                    s1, s2 = sessions[part, 1], sessions[part, 2]
                    r = measure({"aecv1": (lambda: aecv.set_num_threads(1), lambda: ours(x)),
                                 "aecv2": (lambda: aecv.set_num_threads(2), lambda: ours(x)),
                                 "ort1": (None, lambda: s1.run(None, {"input": x})),
                                 "ort2": (None, lambda: s2.run(None, {"input": x}))},
                                args.seconds, args.repeats)
                    best = max(r["ort1"], r["ort2"])
                    threads = 1 if r["ort1"] >= r["ort2"] else 2
                    ours_best = max(r["aecv1"], r["aecv2"])
                    ours_threads = 1 if r["aecv1"] >= r["aecv2"] else 2
                    rows.append((name, op, batch, ours_best, best, threads))
                    if batch == 1:
                        print(f"  {name:6s} {op:11s} batch 1 : libaecv {1e6 / ours_best:8.1f} us ({ours_threads} thr)   "
                              f"onnxruntime {1e6 / best:8.1f} us ({threads} thr)   "
                              f"ORT time / libaecv time {ours_best / best:.2f}")
                    else:
                        print(f"  {name:6s} {op:11s} batch 64: libaecv {64 * ours_best:8.0f} img/s ({ours_threads} thr) "
                              f"onnxruntime {64 * best:8.0f} img/s ({threads} thr)   "
                              f"ORT time / libaecv time {ours_best / best:.2f}")
                    sys.stdout.flush()
            m.close()
    load_after = open("/proc/loadavg").read().split()[:3]
    print(f"bench-onnx: load average after: {' '.join(load_after)}")
    print("ORT time / libaecv time: > 1 means libaecv is faster, < 1 slower")


if __name__ == "__main__":
    main()
