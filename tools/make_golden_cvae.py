#!/usr/bin/python3
"""Golden values of the conditional VAEs from PyTorch 1.13, for GoldenTests.testCVAE and
GoldenTests.testConditionalConvVAE.

Writes Tests/AECVTests/Fixtures/cvae.safetensors: the cvae preset with hidden [12], latent 5,
K = 3 classes, on 4 Fashion-MNIST test images with labels [0, 2, 1, 2] and a given eps:

    c = one_hot(y, K);  h = relu(fc1([x, c]));  mu = fc_mu(h);  logvar = fc_logvar(h)
    z = mu + exp(logvar / 2) * eps;  logits = fc4(relu(fc3([z, c])))
    L = (1/N) sum_n [ sum_pixels BCEWithLogits(logits, x) + KL(q(z|x,y) || N(0, I)) ]

and Tests/AECVTests/Fixtures/cvae_conv.safetensors: conv_vae with "classes": 3, hidden [4, 8],
latent 4, on the same images and labels, the class broadcast as 3 constant input planes:

    h = encoder(cat([x, c[:, :, None, None].expand(-1, -1, 28, 28)], 1))   # conv, 1+3 -> 4 -> 8
    logits = decoder(relu(decoder_input(cat([z, c], 1))).view(-1, 8, 7, 7))

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


CONV_HIDDEN, CONV_LATENT = [4, 8], 4


class ConditionalConvVAE(nn.Module):
    """conv_vae with classes: stride-2 3x3 convs on C + K channels, mirrored ConvTranspose2d
    decoder back to C channels; PyTorch's names are the library's (encoder.N, fc_mu, fc_logvar,
    decoder_input, decoder.N)."""

    def __init__(self, hidden, latent, classes, channels=1, side=28):
        super().__init__()
        layers, c = [], channels + classes
        for h in hidden:
            layers += [nn.Conv2d(c, h, 3, 2, 1), nn.ReLU()]
            c = h
        self.encoder = nn.Sequential(*layers)
        sizes = [side]
        for _ in hidden:
            sizes.append((sizes[-1] + 1) // 2)
        self.shape = (hidden[-1], sizes[-1], sizes[-1])
        flat = hidden[-1] * sizes[-1] ** 2
        self.fc_mu = nn.Linear(flat, latent)
        self.fc_logvar = nn.Linear(flat, latent)
        self.decoder_input = nn.Linear(latent + classes, flat)
        outs = list(reversed([channels] + hidden[:-1]))
        layers = []
        for i, out in enumerate(outs):
            small, big = sizes[len(hidden) - i], sizes[len(hidden) - i - 1]
            pad = big - ((small - 1) * 2 - 2 + 3)
            layers.append(nn.ConvTranspose2d(c, out, 3, 2, 1, output_padding=pad))
            if i + 1 < len(outs):
                layers.append(nn.ReLU())
            c = out
        self.decoder = nn.Sequential(*layers)


def conv_cvae_step(model, x, c, eps, side=28):
    n = x.shape[0]
    images = x.view(n, 1, side, side)
    planes = c[:, :, None, None].expand(-1, -1, side, side)
    h = model.encoder(torch.cat([images, planes], 1)).flatten(1)
    mu, logvar = model.fc_mu(h), model.fc_logvar(h)
    z = mu + torch.exp(0.5 * logvar) * eps
    d = F.relu(model.decoder_input(torch.cat([z, c], 1))).view(n, *model.shape)
    logits = model.decoder(d).reshape(n, -1)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n
    return {"loss": recon + kl, "output": logits, "code": mu, "logvar": logvar, "z": z}


def write_checked(name, tensors, meta):
    path = os.path.join(DEFAULT_OUT, name)
    size = write_safetensors(path, tensors, {k: str(v) for k, v in meta.items()})
    back, _ = read_safetensors(path)
    for tname, t in tensors:
        assert back[tname][1] == t.detach().to(torch.float32).reshape(-1).tolist(), tname
    assert size < MAX_FIXTURE_BYTES, size
    print(f"{path}: {size} bytes, {len(tensors)} tensors")


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
    write_checked("cvae.safetensors", tensors, meta)

    torch.manual_seed(6)
    conv = ConditionalConvVAE(CONV_HIDDEN, CONV_LATENT, CLASSES)
    eps32 = torch.randn(BATCH, CONV_LATENT)
    tensors = model_fixture(conv, flat, lambda m, x: conv_cvae_step(m, x, onehot, eps32.double()),
                            [("labels", labels.float()), ("eps", eps32)])
    meta = {"preset": "conv_vae", "input": [1, 28, 28], "hidden": CONV_HIDDEN, "latent": CONV_LATENT,
            "classes": CLASSES, "loss": "bce", "beta": 1, "batch": BATCH, "seed": 6,
            "params": n_params(conv)}
    write_checked("cvae_conv.safetensors", tensors, meta)


if __name__ == "__main__":
    main()
