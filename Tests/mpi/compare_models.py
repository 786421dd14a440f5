"""Compares two model files' parameters (run by Tests/mpi/run.sh):
    python3 compare_models.py A.aecv B.aecv RTOL LABEL
Asserts max |a - b| / max |b| <= RTOL (Adam steps have a size of about the learning rate
whatever the gradient, so rounding differences are absolute, ~1e-7, not relative per element) over all parameters and prints it."""

import sys

import numpy as np

import aecv

a, b = (aecv.Autoencoder.load(p) for p in sys.argv[1:3])
rtol, label = float(sys.argv[3]), sys.argv[4]
p, q = a.get_parameters(), b.get_parameters()
assert p.shape == q.shape, f"{label}: {p.shape} vs {q.shape} parameters"
worst = float(np.max(np.abs(p - q)) / np.max(np.abs(q)))
l2 = float(np.linalg.norm(p - q) / np.linalg.norm(q))
print(f"{label}: max |difference| / max |parameter| {worst:.2e} (limit {rtol:g}), relative L2 {l2:.2e}")
if worst > rtol:
    raise SystemExit(f"{label}: FAILED: {worst:.3g} > {rtol}")
