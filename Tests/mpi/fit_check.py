"""aecv.distributed.fit against Autoencoder.fit (run by Tests/mpi/run.sh).

    python3 fit_check.py reference OUT_DIR PRESET          one process, batch 64: ref.npz
    mpirun -np N python3 -m mpi4py fit_check.py ranks OUT_DIR PRESET BATCH
                                                           N ranks, batch BATCH each: rank{r}.npz
    python3 fit_check.py compare OUT_DIR N                 asserts, one line per check

Data: the first 1280 Fashion-MNIST training images, 2 epochs (20 steps each at a global batch
of 64). The comparison asserts: every rank's parameters equal rank 0's bit for bit; they equal
the single process's within RTOL (max |p - q| / max |q|: Adam turns float rounding in the gradient sums
into absolute differences of ~1e-7 on every parameter, whatever its size); the loss went down.
"""

import sys

import numpy as np

import aecv
import aecv.distributed

N_IMAGES, EPOCHS, RTOL = 1280, 2, 1e-5


def data():
    images, _ = aecv.datasets.fashion_mnist("train")
    return (images[:N_IMAGES, None].astype(np.float32) / 255.0)


def model(preset):
    return aecv.Autoencoder(preset, input_shape=(1, 28, 28), seed=0)


def main(argv):
    mode, out = argv[1], argv[2]
    # The reference splits its batch in 2 parts (2 threads) as the 2 ranks do; see run.sh.
    aecv.set_num_threads(2 if mode == "reference" else 1)
    if mode == "reference":
        with model(argv[3]) as m:
            losses = m.fit(data(), epochs=EPOCHS, batch_size=64, progress=False)
            np.savez(f"{out}/ref.npz", parameters=m.get_parameters(), losses=np.array(losses))
    elif mode == "ranks":
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
        with model(argv[3]) as m:
            losses = aecv.distributed.fit(m, data(), epochs=EPOCHS, batch_size=int(argv[4]), comm=comm)
            np.savez(f"{out}/rank{comm.rank}.npz", parameters=m.get_parameters(), losses=np.array(losses))
    elif mode == "compare":
        ranks = int(argv[3])
        ref = np.load(f"{out}/ref.npz")
        r0 = np.load(f"{out}/rank0.npz")
        for r in range(1, ranks):
            other = np.load(f"{out}/rank{r}.npz")
            assert np.array_equal(other["parameters"], r0["parameters"]), f"rank {r} differs from rank 0"
        p, q = r0["parameters"], ref["parameters"]
        worst = float(np.max(np.abs(p - q)) / np.max(np.abs(q)))
        l2 = float(np.linalg.norm(p - q) / np.linalg.norm(q))
        print(f"python: {ranks} ranks agree bitwise; vs 1 process: max |difference| / max |parameter| "
              f"{worst:.2e} (limit {RTOL:g}), relative L2 {l2:.2e}; epoch losses {np.round(r0['losses'], 5).tolist()} "
              f"vs {np.round(ref['losses'], 5).tolist()}")
        assert worst <= RTOL, f"{ranks} ranks differ from one process by {worst:.3g} > {RTOL}"
        assert r0["losses"][-1] < r0["losses"][0], "the loss did not decrease"
        np.testing.assert_allclose(r0["losses"], ref["losses"], rtol=1e-4)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv)
