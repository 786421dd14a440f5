"""Data-parallel training over MPI with mpi4py, the way Horovod's DistributedOptimizer does it:
rank 0's parameters are broadcast at the start, every rank trains on its shard of each global
batch, and gradients are summed with MPI_Allreduce in place on the model's flat gradient
vector before the same optimizer step on every rank.

    # mpirun -np 4 python3 train.py
    import numpy as np, aecv, aecv.distributed
    from mpi4py import MPI
    X = np.load("images.npy")                              # every rank: the same array (or file)
    model = aecv.Autoencoder("conv", input_shape=(1, 28, 28), seed=0)
    losses = aecv.distributed.fit(model, X, epochs=5, batch_size=64, comm=MPI.COMM_WORLD)
    if MPI.COMM_WORLD.rank == 0:
        model.save("model.aecv")

Gradient scale: each rank computes its shard's gradient weighted for the whole global batch
(Autoencoder.compute_gradients with first_example/total_batch), so the SUM over ranks is the
gradient of the global batch, exactly what one process computes on it, for uneven last
batches too. N ranks at batch_size B therefore follow one process at batch N*B (same
examples, same order) up to float rounding. BatchNorm statistics, if a model has them, are
each rank's own (PyTorch DDP's default); rank 0's are broadcast at the start.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ._typing import ArrayLike
from .errors import InvalidArgumentError

if TYPE_CHECKING:
    from .autoencoder import Autoencoder

#: An mpi4py communicator (mpi4py is optional, so it is not typed here).
Comm = Any

__all__ = ["fit", "broadcast_state", "parameters_agree"]


def _world(comm: Comm | None) -> Comm:
    if comm is not None:
        return comm
    try:
        from mpi4py import MPI  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise ImportError("aecv.distributed needs mpi4py (pip install mpi4py, or Debian's "
                          "python3-mpi4py) or an explicit comm") from exc
    return MPI.COMM_WORLD


def _mpi() -> Any:
    from mpi4py import MPI  # type: ignore[import-not-found,unused-ignore]
    return MPI


def broadcast_state(model: Autoencoder, comm: Comm | None = None) -> None:
    """Rank 0's parameters and buffers on every rank of comm."""
    comm = _world(comm)
    p = model.get_parameters()
    comm.Bcast(p, root=0)
    model.set_parameters(p)
    if model.buffer_count:
        b = model.get_buffers()
        comm.Bcast(b, root=0)
        model.set_buffers(b)


def parameters_agree(model: Autoencoder, comm: Comm | None = None) -> bool:
    """True when every rank holds bit-identical parameters (a hash compared across ranks)."""
    comm = _world(comm)
    digest = hashlib.sha256(model.get_parameters().tobytes()).hexdigest()
    return len(set(comm.allgather(digest))) == 1


def shard(count: int, rank: int, size: int) -> tuple[int, int]:
    """(first, stop) of rank's contiguous, as-even-as-possible part of a batch of count."""
    return rank * count // size, (rank + 1) * count // size


def fit(model: Autoencoder, X: ArrayLike, epochs: int = 1, batch_size: int = 64,
        comm: Comm | None = None, shuffle: bool = True, targets: ArrayLike | None = None,
        callback: Callable[[int, float], object] | None = None) -> list[float]:
    """Trains model on X with every rank of comm (default MPI.COMM_WORLD); returns the mean
    training loss of each epoch over the whole data set (the same list on every rank).

    Every rank must pass the same X (or at least the same number of examples in the same
    order: rank r reads only its shards). batch_size is per rank, as in Horovod: a step takes
    batch_size * comm.size examples. The order of each epoch is the model's own shuffle (as
    Autoencoder.fit), drawn on rank 0 and broadcast. A last global batch with fewer examples
    than ranks is left out of the epoch. callback(epoch, loss) returning False stops early (on
    every rank: rank 0's answer is broadcast). Raises on every rank if the ranks' parameters
    differ at the end.
    """
    comm = _world(comm)
    MPI = _mpi()  # MPI.IN_PLACE and MPI.SUM
    X, _ = model._images(X, "X")
    T = model._targets(targets, X.shape[0])
    n, rank, size = X.shape[0], comm.Get_rank(), comm.Get_size()
    if isinstance(epochs, bool) or int(epochs) < 0:
        raise InvalidArgumentError(f"epochs: must be >= 0, got {epochs}")
    if isinstance(batch_size, bool) or int(batch_size) < 1:
        raise InvalidArgumentError(f"batch_size: must be >= 1, got {batch_size}")
    counts = comm.allgather(n)
    if len(set(counts)) != 1:
        raise InvalidArgumentError(f"X: the ranks have different numbers of examples: {counts}")
    global_batch = int(batch_size) * size
    steps = n // global_batch + (1 if n % global_batch >= size else 0)
    if steps == 0:
        raise InvalidArgumentError(f"X: {n} examples are fewer than the {size} ranks")
    broadcast_state(model, comm)
    losses: list[float] = []
    for epoch in range(1, int(epochs) + 1):
        order = model._rng.permutation(n) if shuffle else np.arange(n)
        order = np.ascontiguousarray(order, dtype=np.int64)
        comm.Bcast(order, root=0)
        total = 0.0
        seen = 0
        for s in range(steps):
            start = s * global_batch
            count = min(global_batch, n - start)
            first, stop = shard(count, rank, size)
            rows = order[start + first:start + stop]
            loss = model.compute_gradients(X[rows], None if T is None else T[rows],
                                           first_example=first, total_batch=count)
            g = model.gradients()
            comm.Allreduce(MPI.IN_PLACE, [g, MPI.FLOAT], op=MPI.SUM)
            model.apply_gradients()
            total += comm.allreduce(loss, op=MPI.SUM) * count
            seen += count
        losses.append(total / seen)
        go_on = True
        if callback is not None and rank == 0:
            go_on = callback(epoch, losses[-1]) is not False
        if not comm.bcast(go_on, root=0):
            break
    if not parameters_agree(model, comm):
        raise RuntimeError(f"aecv.distributed.fit: rank {rank}: the ranks' parameters differ "
                           f"after training (different data or library versions on the ranks?)")
    return losses
