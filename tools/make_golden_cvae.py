#!/usr/bin/python3
"""Golden values of the conditional VAE (preset cvae) from PyTorch 1.13, for GoldenTests.testCVAE.

Writes Tests/AECVTests/Fixtures/cvae.safetensors: the cvae preset with hidden [12], latent 5,
K = 3 classes, on 4 Fashion-MNIST test images with labels [0, 2, 1, 2] and a given eps:

    c = one_hot(y, K);  h = relu(fc1([x, c]));  mu = fc_mu(h);  logvar = fc_logvar(h)
    z = mu + exp(logvar / 2) * eps;  logits = fc4(relu(fc3([z, c])))
    L = (1/N) sum_n [ sum_pixels BCEWithLogits(logits, x) + KL(q(z|x,y) || N(0, I)) ]

Tensors (same layout as tools/make_golden.py's vae.safetensors): param.* (initial weights),
input, labels (as float), eps, output (logits), code (mu), logvar, z, loss, grad.*, grad.input,
adam3.* / sgd3.* (parameters after 3 steps) and adam3.losses / sgd3.losses.
Computed in float64 from float32 initial values. Run: /usr/bin/python3 tools/make_golden_cvae.py
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import (BATCH, DATA_DIR, DEFAULT_OUT, MAX_FIXTURE_BYTES, load_idx_images,  # noqa: E402
                         model_fixture, n_params, read_safetensors, write_safetensors)

HIDDEN, LATENT, CLASSES = 12, 5, 3
LABELS = [0, 2, 1, 2]


class CVAE(nn.Module):
    def __init__(self, hidden, latent, classes, inputs=784):
        super().__init__()
        self.fc1 = nn.Linear(inputs + classes, hidden)
        self.fc_mu = nn.Linear(hidden, latent)
        self.fc_logvar = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent + classes, hidden)
        self.fc4 = nn.Linear(hidden, inputs)


def cvae_step(model, x, c, eps):
    h = F.relu(model.fc1(torch.cat([x, c], 1)))
    mu, logvar = model.fc_mu(h), model.fc_logvar(h)
    z = mu + torch.exp(0.5 * logvar) * eps
    logits = model.fc4(F.relu(model.fc3(torch.cat([z, c], 1))))
    n = x.shape[0]
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n
    return {"loss": recon + kl, "output": logits, "code": mu, "logvar": logvar, "z": z}


def main():
    torch.set_num_threads(1)
    images = load_idx_images(os.path.join(DATA_DIR, "t10k-images-idx3-ubyte.gz"), BATCH)
    flat = images.reshape(BATCH, 784)
    labels = torch.tensor(LABELS)
    onehot = F.one_hot(labels, CLASSES).double()
    torch.manual_seed(4)
    model = CVAE(HIDDEN, LATENT, CLASSES)
    eps32 = torch.randn(BATCH, LATENT)
    tensors = model_fixture(model, flat, lambda m, x: cvae_step(m, x, onehot, eps32.double()),
                            [("labels", labels.float()), ("eps", eps32)])
    meta = {"preset": "cvae", "input": [1, 28, 28], "hidden": [HIDDEN], "latent": LATENT,
            "classes": CLASSES, "loss": "bce", "beta": 1, "batch": BATCH, "seed": 4,
            "params": n_params(model)}
    path = os.path.join(DEFAULT_OUT, "cvae.safetensors")
    size = write_safetensors(path, tensors, {k: str(v) for k, v in meta.items()})
    back, _ = read_safetensors(path)
    for name, t in tensors:
        assert back[name][1] == t.detach().to(torch.float32).reshape(-1).tolist(), name
    assert size < MAX_FIXTURE_BYTES, size
    print(f"{path}: {size} bytes, {len(tensors)} tensors")


if __name__ == "__main__":
    main()
