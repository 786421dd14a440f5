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
  3. + samples of a conditional generator (--generator: the dense aecv "cvae", hidden 400, or
     the conditional "conv_vae", the class as 10 input planes; latent 20, KL weight --cvae-beta)
     trained on the SAME labeled images only, --synthetic images per class, mixed with the real
     ones. beta defaults to 4: at beta 1 the code carries the class, the decoder learns to
     ignore its condition, and samples from the prior often show another class;
  4. + latent mixup: an unconditional aecv "vae" (the same hidden and latent) trained on the
     same labeled images, --synthetic images per class decoded between the codes of two
     examples of the class (aecv.latent_mixup, t ~ U(0, 1)), mixed with the real ones;
  5. + samples of the generator trained on ALL training images, labels where known: the n
     labeled images with their labels, and the unlabeled images the labeled-only classifier
     (row 1) labels with softmax probability >= --pseudo-threshold, with that label (no other
     label is used; the oracle below only judges);
  6. row 5's samples kept only when the labeled-only classifier gives their class probability
     >= --filter;
  7. + both: classic augmentation of the real images and row 5's samples;
  8. control: + row 5's pseudo-labeled real images themselves instead of samples (what the
     unlabeled images give without a generator).
Test accuracy on the 10k test set, mean ± std over the seeds. Sample quality: an "oracle" MLP
trained 3 epochs on all 60k real labeled images, applied to the generated images of each class
(per-class accuracy). Prints the load average it ran under.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import aecv

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench"))
import machine  # noqa: E402  (tools/bench/machine.py: CPU and OpenBLAS kernels)


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


def pseudo_labeled(base, X_unlabeled, threshold):
    """The unlabeled images the labeled-only classifier `base` labels with softmax probability
    >= threshold: (images, predicted labels, kept indices)."""
    with torch.no_grad():
        p = torch.cat([F.softmax(base(X_unlabeled[i:i + 4096]), 1) for i in range(0, len(X_unlabeled), 4096)])
    confidence, label = p.max(1)
    keep = torch.nonzero(confidence >= threshold).flatten()
    return X_unlabeled[keep], label[keep], keep


def agreeing(judge, X, y, threshold):
    """Rows of (X, y) whose class `judge` predicts with probability >= threshold."""
    with torch.no_grad():
        p = F.softmax(judge(X), 1)
    keep = p[torch.arange(len(y)), y] >= threshold
    return X[keep], y[keep]


def make_generator(kind, seed, beta):
    """The conditional generator: the dense cvae (hidden 400) or the conditional conv_vae (the
    class as 10 constant input channels), latent 20 both."""
    if kind == "cvae":
        return aecv.Autoencoder("cvae", input_shape=(1, 28, 28), classes=10, hidden=[400], latent=20,
                                seed=seed, beta=beta)
    return aecv.Autoencoder("conv_vae", input_shape=(1, 28, 28), classes=10, latent=20, seed=seed, beta=beta)


def samples(generator, X, y, epochs, per_class, seed):
    generator.fit(X.numpy(), y.numpy(), epochs=epochs, batch_size=64, progress=False)
    Xs, ys = aecv.augment(generator, per_class, seed=seed)
    return torch.tensor(Xs), torch.tensor(ys)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--labels", default="600", help="comma-separated label counts (issue: 60,600,6000)")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (issue: 0,1,2)")
    ap.add_argument("--steps", type=int, default=2000, help="classifier steps in every condition")
    ap.add_argument("--cvae-epochs", type=int, default=0, help="labeled-only generator; default: about 60k examples seen")
    ap.add_argument("--all-epochs", type=int, default=10, help="epochs of the generator trained on all images")
    ap.add_argument("--synthetic", type=int, default=200,
                    help="generated images per class (600 labels, seeds 0-2: 100 gave \"both\" 78.92, 200 gave 79.18)")
    ap.add_argument("--cvae-beta", type=float, default=4.0, help="the generator's KL weight (see above)")
    ap.add_argument("--generator", choices=["cvae", "conv_vae"], default="cvae",
                    help="dense cvae or the conditional conv_vae")
    ap.add_argument("--pseudo-threshold", type=float, default=0.9,
                    help="unlabeled images join the generator's data when the labeled-only classifier "
                         "is this confident")
    ap.add_argument("--filter", type=float, default=0.5,
                    help="the filtered row keeps samples the labeled-only classifier gives their class "
                         "with at least this probability")
    ap.add_argument("--augment-samples", action="store_true",
                    help="in \"both\", classic augmentation of the samples too, not only of the real images")
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

    names = ["labeled only", "+ classic aug", "+ samples, generator on labeled", "+ latent mixup",
             "+ samples, generator on all", "+ samples, generator on all, filtered", "+ both (classic + all)",
             "+ pseudo-labeled real images (control)"]
    for n in [int(v) for v in args.labels.split(",")]:
        results = {k: [] for k in names}
        quality = {k: [] for k in ("labeled", "all", "filtered", "mixup")}
        pseudo_stats = []
        for seed in [int(v) for v in args.seeds.split(",")]:
            idx = balanced(ytr, n, seed)
            X, y = Xtr_t[idx], ytr_t[idx]
            unlabeled = torch.ones(len(ytr), dtype=torch.bool)
            unlabeled[torch.tensor(idx)] = False
            base = train_classifier(X, y, args.steps, seed)
            results["labeled only"].append(accuracy(base, Xte_t, yte_t))
            results["+ classic aug"].append(accuracy(train_classifier(X, y, args.steps, seed, torch.ones(n, dtype=torch.bool)), Xte_t, yte_t))

            def judged(Xs, ys):
                return [accuracy(oracle, Xs[ys == c], ys[ys == c]) for c in range(10)]

            def with_real(Xs, ys, aug=False):
                mask = torch.cat([torch.ones(n, dtype=torch.bool),
                                  torch.full((len(ys),), args.augment_samples)]) if aug else None
                return accuracy(train_classifier(torch.cat([X, Xs]), torch.cat([y, ys]), args.steps, seed, mask), Xte_t, yte_t)

            # 3a: the generator sees the labeled images only
            epochs = args.cvae_epochs or max(1, 60000 // n)
            Xs, ys = samples(make_generator(args.generator, seed, args.cvae_beta), X, y, epochs, args.synthetic, seed)
            quality["labeled"].append(judged(Xs, ys))
            results["+ samples, generator on labeled"].append(with_real(Xs, ys))
            # 5: latent mixup of an unconditional vae on the labeled images
            vae = aecv.Autoencoder("vae", input_shape=(1, 28, 28), hidden=[400], latent=20, seed=seed)
            vae.fit(X.numpy(), epochs=epochs, batch_size=64, progress=False)
            Xm, ym = aecv.latent_mixup(vae, X.numpy(), y.numpy(), args.synthetic, seed=seed)
            Xm, ym = torch.tensor(Xm), torch.tensor(ym)
            quality["mixup"].append(judged(Xm, ym))
            results["+ latent mixup"].append(with_real(Xm, ym))
            # 3b: the generator sees all images, labels where known, else the labeled-only
            # classifier's label when it is confident
            Xu, yu, kept = pseudo_labeled(base, Xtr_t[unlabeled], args.pseudo_threshold)
            truth = ytr_t[unlabeled][kept]
            pseudo_stats.append((len(yu) / int(unlabeled.sum()), float((yu == truth).float().mean()) if len(yu) else 0.0))
            Xg, yg = torch.cat([X, Xu]), torch.cat([y, yu])
            Xs, ys = samples(make_generator(args.generator, seed, args.cvae_beta), Xg, yg, args.all_epochs,
                             args.synthetic, seed)
            quality["all"].append(judged(Xs, ys))
            results["+ samples, generator on all"].append(with_real(Xs, ys))
            Xf, yf = agreeing(base, Xs, ys, args.filter)
            quality["filtered"].append(judged(Xf, yf) if len(yf) else [0.0] * 10)
            results["+ samples, generator on all, filtered"].append(with_real(Xf, yf))
            results["+ both (classic + all)"].append(with_real(Xs, ys, aug=True))
            results["+ pseudo-labeled real images (control)"].append(with_real(Xu, yu))
        kept, right = np.mean(pseudo_stats, axis=0)
        print(f"\n{n} labels, seeds {args.seeds}; generator {args.generator} (beta {args.cvae_beta:g}): on the labeled "
              f"images {epochs} epochs; on all images {args.all_epochs} epochs, the {n} labeled plus the "
              f"{kept * 100:.0f} % of the unlabeled the labeled-only classifier labels with p >= "
              f"{args.pseudo_threshold:g} ({right * 100:.1f} % of those labels right); {args.synthetic} samples/class; "
              f"filter p >= {args.filter:g}; classifier {args.steps} steps")
        print("| condition | test accuracy (mean ± std) |\n|---|---|")
        for k in names:
            a = np.array(results[k]) * 100
            print(f"| {k} | {a.mean():.2f} ± {a.std(ddof=1) if len(a) > 1 else 0:.2f} |")
        for label, qs in quality.items():
            q = np.mean(qs, axis=0) * 100
            print(f"oracle accuracy on the samples ({label}), per class: "
                  + " ".join(f"{c}:{v:.0f}" for c, v in enumerate(q)) + f"  (mean {q.mean():.1f})")
    print(f"\nmachine: {machine.describe()}")
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}; {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
