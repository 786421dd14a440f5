#!/usr/bin/python3
"""Does generation help a classifier trained on few labels? (issue 20, reduced-scale study)

    make lib
    PYTHONPATH=bindings/python AECV_LIBRARY=build/lib/libaecv.so \\
        flock /tmp/aecv-heavy.lock /usr/bin/python3 tools/augment_bench.py --labels 600 --seeds 0

Fashion-MNIST, n labeled training images (balanced, drawn with each seed). The classifier is a
PyTorch MLP 784-256-10 (ReLU, Adam 1e-3, batch 64) trained for the SAME number of steps in every
condition (--steps), so only the data differ:
  1. labeled images only;
  2. + classic augmentation (random horizontal flip, random shift of up to 2 pixels), on the fly;
  3. + cVAE samples: an aecv "cvae" (hidden 400, latent 20, KL weight --cvae-beta) trained on
     the SAME labeled images only (no unlabeled data), --synthetic images per class, mixed with
     the real ones. beta defaults to 4: at beta 1 the code carries the class, the decoder learns
     to ignore its condition, and samples from the prior often show another class (an MLP
     trained on all 60k images recognised 51 % of a beta-1 cvae's samples after 3 epochs on all
     60k labels, 90 % at beta 4, 32 % at beta 0.25);
  4. + both (augmentation applied to the real images only);
  5. + latent mixup: an unconditional aecv "vae" (the same hidden and latent) trained on the
     same labeled images, --synthetic images per class decoded between the codes of two
     examples of the class (aecv.latent_mixup, t ~ U(0, 1)), mixed with the real ones.
Test accuracy on the 10k test set, mean ± std over the seeds. Sample quality: an "oracle" MLP
trained 3 epochs on all 60k real labeled images, applied to the generated images of each class
(per-class accuracy). Prints the load average it ran under.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import aecv


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def classic(x, gen):
    """Random horizontal flip and shift of up to 2 pixels, per image. x: (n, 1, 28, 28)."""
    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    padded = F.pad(x, (2, 2, 2, 2))
    dx = torch.randint(0, 5, (n,), generator=gen)
    dy = torch.randint(0, 5, (n,), generator=gen)
    return torch.stack([padded[i, :, dy[i]:dy[i] + 28, dx[i]:dx[i] + 28] for i in range(n)])


def train_classifier(X, y, steps, seed, augment_mask=None, batch=64):
    """X float (n,1,28,28) in [0,1], y int64; augment_mask: which rows get classic augmentation."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = X.shape[0]
    for _ in range(steps):
        idx = torch.randint(0, n, (batch,), generator=gen)
        xb, yb = X[idx], y[idx]
        if augment_mask is not None:
            m = augment_mask[idx]
            if m.any():
                xb = xb.clone()
                xb[m] = classic(xb[m], gen)
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
    return model


@torch.no_grad()
def accuracy(model, X, y):
    return float((model(X).argmax(1) == y).float().mean())


def balanced(labels, n, seed):
    rng = np.random.default_rng(seed)
    per = n // 10
    return np.concatenate([rng.choice(np.flatnonzero(labels == c), per, replace=False) for c in range(10)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--labels", default="600", help="comma-separated label counts (issue: 60,600,6000)")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (issue: 0,1,2)")
    ap.add_argument("--steps", type=int, default=2000, help="classifier steps in every condition")
    ap.add_argument("--cvae-epochs", type=int, default=0, help="default: about 60k examples seen")
    ap.add_argument("--synthetic", type=int, default=600, help="generated images per class")
    ap.add_argument("--cvae-beta", type=float, default=4.0, help="the cvae's KL weight (see above)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    Xtr, ytr = aecv.datasets.fashion_mnist("train")
    Xte, yte = aecv.datasets.fashion_mnist("test")
    to_t = lambda a: torch.tensor(a, dtype=torch.float32).reshape(-1, 1, 28, 28) / 255  # noqa: E731
    Xtr_t, Xte_t = to_t(Xtr), to_t(Xte)
    ytr_t, yte_t = torch.tensor(ytr), torch.tensor(yte)

    oracle = train_classifier(Xtr_t, ytr_t, steps=3 * 60000 // 64, seed=100)
    print(f"oracle MLP (60k real labels, 3 epochs): test accuracy {accuracy(oracle, Xte_t, yte_t):.4f}")

    names = ["labeled only", "+ classic aug", "+ cVAE samples", "+ both", "+ latent mixup"]
    for n in [int(v) for v in args.labels.split(",")]:
        results = {k: [] for k in names}
        quality, quality_mix = [], []
        for seed in [int(v) for v in args.seeds.split(",")]:
            idx = balanced(ytr, n, seed)
            X, y = Xtr_t[idx], ytr_t[idx]
            cvae = aecv.Autoencoder("cvae", input_shape=(1, 28, 28), classes=10, hidden=[400], latent=20,
                                    seed=seed, beta=args.cvae_beta)
            epochs = args.cvae_epochs or max(1, 60000 // n)
            cvae.fit(X.numpy(), y.numpy(), epochs=epochs, batch_size=64, progress=False)
            Xs, ys = aecv.augment(cvae, args.synthetic, seed=seed)
            Xs_t, ys_t = torch.tensor(Xs), torch.tensor(ys)
            per_class = [accuracy(oracle, Xs_t[ys_t == c], ys_t[ys_t == c]) for c in range(10)]
            quality.append(per_class)
            vae = aecv.Autoencoder("vae", input_shape=(1, 28, 28), hidden=[400], latent=20, seed=seed)
            vae.fit(X.numpy(), epochs=epochs, batch_size=64, progress=False)
            Xm, ym = aecv.latent_mixup(vae, X.numpy(), y.numpy(), args.synthetic, seed=seed)
            Xm_t, ym_t = torch.tensor(Xm), torch.tensor(ym)
            quality_mix.append([accuracy(oracle, Xm_t[ym_t == c], ym_t[ym_t == c]) for c in range(10)])
            mix_X, mix_y = torch.cat([X, Xm_t]), torch.cat([y, ym_t])
            both_X, both_y = torch.cat([X, Xs_t]), torch.cat([y, ys_t])
            real_mask = torch.cat([torch.ones(n, dtype=torch.bool), torch.zeros(len(ys), dtype=torch.bool)])
            models = {
                "labeled only": train_classifier(X, y, args.steps, seed),
                "+ classic aug": train_classifier(X, y, args.steps, seed, torch.ones(n, dtype=torch.bool)),
                "+ cVAE samples": train_classifier(both_X, both_y, args.steps, seed),
                "+ both": train_classifier(both_X, both_y, args.steps, seed, real_mask),
                "+ latent mixup": train_classifier(mix_X, mix_y, args.steps, seed),
            }
            for k, m in models.items():
                results[k].append(accuracy(m, Xte_t, yte_t))
        print(f"\n{n} labels, seeds {args.seeds}, cVAE (beta {args.cvae_beta:g}) {epochs} epochs on the labeled images only, "
              f"{args.synthetic} samples/class, classifier {args.steps} steps")
        print("| condition | test accuracy (mean ± std) |\n|---|---|")
        for k in names:
            a = np.array(results[k]) * 100
            print(f"| {k} | {a.mean():.2f} ± {a.std(ddof=1) if len(a) > 1 else 0:.2f} |")
        for label, qs in (("cVAE samples", quality), ("latent mixup", quality_mix)):
            q = np.mean(qs, axis=0) * 100
            print(f"oracle accuracy on the {label}, per class: "
                  + " ".join(f"{c}:{v:.0f}" for c, v in enumerate(q)) + f"  (mean {q.mean():.1f})")
    print(f"\nload average: {open('/proc/loadavg').read().split()[:3]}; {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
