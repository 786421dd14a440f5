"""Threads: models train in parallel threads (the GIL is released in library calls), a shared
model is safe, and close() from another thread is safe. No timing is asserted."""

import threading

import numpy as np

import aecv

from conftest import images


def _train(model, X, steps, batch):
    losses = []
    for i in range(steps):
        start = (i * batch) % len(X)
        losses.append(model.train_step(X[start:start + batch]))
    return losses, model.reconstruct(X[:8])


def _run_in_threads(functions):
    results, failures = [None] * len(functions), []

    def run(i, fn):
        try:
            results[i] = fn()
        except BaseException as exc:  # reported in the main thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(functions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "a training thread hung"
    if failures:
        raise failures[0]
    return results


def test_two_models_train_in_two_threads():
    data = [images(64, seed=10), images(64, seed=11)]
    # the reference: the same runs, one after the other, on the main thread
    expected = []
    for seed, X in enumerate(data):
        with aecv.Autoencoder("conv", seed=seed) as m:
            expected.append(_train(m, X, steps=12, batch=16))

    models = [aecv.Autoencoder("conv", seed=seed) for seed in range(2)]
    try:
        results = _run_in_threads([lambda m=m, X=X: _train(m, X, steps=12, batch=16)
                                   for m, X in zip(models, data)])
    finally:
        for m in models:
            m.close()
    for (losses, recon), (want_losses, want_recon) in zip(results, expected):
        assert losses == want_losses
        np.testing.assert_array_equal(recon, want_recon)


def test_two_models_fit_in_two_threads():
    X = images(96, (1, 8, 8))
    with aecv.Autoencoder("dense", input_shape=(1, 8, 8), latent=4, hidden=[16], seed=7) as ref:
        expected = ref.fit(X, epochs=2, batch_size=16, progress=False)
    models = [aecv.Autoencoder("dense", input_shape=(1, 8, 8), latent=4, hidden=[16], seed=7)
              for _ in range(2)]
    try:
        results = _run_in_threads([lambda m=m: m.fit(X, epochs=2, batch_size=16, progress=False)
                                   for m in models])
    finally:
        for m in models:
            m.close()
    assert results == [expected, expected]


def test_one_model_shared_by_four_threads(dense):
    X = images(32, (1, 8, 8))

    def work(i):
        def run():
            out = []
            for _ in range(20):
                out.append(dense.train_step(X[i * 8:(i + 1) * 8]) if i % 2 == 0
                           else float(dense.transform(X).sum()))
            return out
        return run

    results = _run_in_threads([work(i) for i in range(4)])
    assert all(np.isfinite(v) for r in results for v in r)


def test_close_while_another_thread_trains():
    X = images(16, (1, 8, 8))
    m = aecv.Autoencoder("dense", input_shape=(1, 8, 8), latent=4, hidden=[16])
    started = threading.Event()
    outcome = []

    def train():
        try:
            while True:
                m.train_step(X)
                started.set()
        except aecv.AECVError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=train)
    thread.start()
    assert started.wait(timeout=60)
    m.close()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], aecv.ClosedModelError)
