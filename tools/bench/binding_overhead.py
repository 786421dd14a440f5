#!/usr/bin/env python3
"""What the Python binding adds to a one-image call: `m.transform(X)` against the bare C call
underneath (`aecv_model_encode` through the same ctypes function, arrays already prepared), side
by side in one run, 1 thread. The difference is the wrapper's own work (checks, output array,
lock); the ctypes conversion of the two array arguments (~0.75 µs each for `ndarray.ctypes`) is
in both.

    AECV_LIBRARY=build/lib/libaecv.so.0 PYTHONPATH=bindings/python \\
        python3 tools/bench/binding_overhead.py [--preset dense] [--calls 20000]
"""
import argparse
import os
import sys
import timeit

import numpy as np

import aecv
from aecv import _ffi

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import machine  # noqa: E402  (tools/bench/machine.py)


def best_us(fn, calls):
    return min(timeit.repeat(fn, number=calls, repeat=5)) / calls * 1e6


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="dense")
    p.add_argument("--calls", type=int, default=20000)
    args = p.parse_args()
    aecv.set_num_threads(1)
    print(f"binding overhead: {machine.describe()}; load average {os.getloadavg()[0]:.2f}")
    with aecv.Autoencoder(args.preset, input_shape=(1, 28, 28), seed=0) as m:
        X = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)
        flat = X.reshape(1, 784)
        out = np.empty((1, m.latent_size), np.float32)
        fn, handle = _ffi.lib.aecv_model_encode, m._handle
        wrapped = best_us(lambda: m.transform(X), args.calls)
        bare = best_us(lambda: fn(handle, flat, 1, out, out.size), args.calls)
    print(f"  {args.preset} encode, 1 image: transform {wrapped:.2f} µs, bare C call {bare:.2f} µs, "
          f"wrapper {wrapped - bare:.2f} µs")


if __name__ == "__main__":
    main()
