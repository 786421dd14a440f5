#!/usr/bin/python3
"""Weights move between PyTorch and libaecv with no renaming and the same outputs.

For each of conv, dense, vae and conv_vae (the full presets, 1x28x28; sparse and denoising
have the modules of dense and conv), and conv_bn (the conv preset with the vision stage options,
BatchNorm, max pooling and bilinear upsampling: its running statistics move too, and outputs are
compared in evaluation mode):

  torch -> libaecv  the PyTorch module below trains for a few Adam steps on Fashion-MNIST; its
                    state_dict is written as safetensors (by hand: the safetensors package is
                    not needed) and imported into libaecv through the C API
                    (aecv_model_import_safetensors); reconstructions of test images must agree
                    to <= 1e-5 (VAE: the decoded mean through the sigmoid, sigmoid(fc4(relu(
                    fc3(mu))))).
  libaecv -> torch  libaecv trains a few steps, exports (aecv_model_export_safetensors), and a
                    fresh PyTorch module loads the file with load_state_dict(strict=True); its
                    outputs must agree to <= 1e-5.
  wrong shape       a state_dict of another width is refused (ShapeError) and leaves the model
                    bit-identical (same saved bytes, same reconstructions).

Run from the repository root with Debian's torch (the pyenv python3 on PATH has none), after
`make lib`:

    /usr/bin/python3 tools/parity_torch.py [--steps 5] [--batch 64] [--tolerance 1e-5]

The binding (bindings/python) and build/lib/libaecv.so.0.1.0 are used unless PYTHONPATH /
AECV_LIBRARY say otherwise. Prints a table of the maximum absolute differences; exits 1 when
any check fails.
"""

import argparse
import gzip
import json
import os
import struct
import sys
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "bindings", "python"))
os.environ.setdefault("AECV_LIBRARY", os.path.join(REPO, "build", "lib", "libaecv.so.0.1.0"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import aecv  # noqa: E402

DATA_DIR = "/usr/share/datasets/fashion-mnist"


# ---------------------------------------------------------------------------------------------
# The PyTorch modules equivalent to the presets (docs/model-format.md): their state_dict names
# are libaecv's tensor names.

class ConvAE(nn.Module):
    """preset "conv": 28 -> 14 -> 7 -> 4 -> 7 -> 14 -> 28."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=0), nn.ReLU(),
            nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))

    def loss(self, x):
        return F.mse_loss(self(x), x)


class DenseAE(nn.Module):
    """preset "dense": 784 -> 256 -> 64 -> 256 -> 784 (flattened in forward)."""

    def __init__(self, hidden=256, latent=64, inputs=784):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(),
                                     nn.Linear(hidden, latent), nn.ReLU())
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(),
                                     nn.Linear(hidden, inputs), nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x.flatten(1))).view_as(x)

    def loss(self, x):
        return F.mse_loss(self(x), x)


class VAE(nn.Module):
    """preset "vae": 784 -> 400 -> (mu, logvar: 20) -> 400 -> 784, Bernoulli decoder."""

    def __init__(self, hidden=400, latent=20, inputs=784):
        super().__init__()
        self.fc1 = nn.Linear(inputs, hidden)
        self.fc_mu = nn.Linear(hidden, latent)
        self.fc_logvar = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, inputs)

    def encode(self, x):
        h = F.relu(self.fc1(x.flatten(1)))
        return self.fc_mu(h), self.fc_logvar(h)

    def decode_logits(self, z):
        return self.fc4(F.relu(self.fc3(z)))

    def forward(self, x):
        """The reconstruction libaecv returns: the decoded mean through the sigmoid."""
        mu, _ = self.encode(x)
        return torch.sigmoid(self.decode_logits(mu)).view_as(x)

    def loss(self, x):
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        recon = F.binary_cross_entropy_with_logits(self.decode_logits(z), x.flatten(1),
                                                   reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return (recon + kl) / x.shape[0]


class ConvVAE(nn.Module):
    """preset "conv_vae": the conv encoder, mu/logvar heads on its flattened output (64*4*4),
    decoder_input back to (64, 4, 4), and the mirrored decoder without the final Sigmoid
    (Bernoulli logits)."""

    def __init__(self, latent=20):
        super().__init__()
        self.encoder = ConvAE().encoder
        self.fc_mu = nn.Linear(1024, latent)
        self.fc_logvar = nn.Linear(1024, latent)
        self.decoder_input = nn.Linear(latent, 1024)
        self.decoder = nn.Sequential(*list(ConvAE().decoder)[:-1])

    def encode(self, x):
        h = self.encoder(x).flatten(1)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode_logits(self, z):
        return self.decoder(F.relu(self.decoder_input(z)).view(-1, 64, 4, 4)).flatten(1)

    forward = VAE.forward
    loss = VAE.loss


class ConvBNAE(nn.Module):
    """preset "conv" with {"channels": [16, 32], "batch_norm": true, "downsample": "max_pool",
    "upsample": "bilinear"}: 28 -> 14 -> 7 -> 14 -> 28, biasless convs before each BatchNorm."""

    def __init__(self, channels=(16, 32)):
        super().__init__()
        a, b = channels
        self.encoder = nn.Sequential(
            nn.Conv2d(1, a, 3, padding=1, bias=False), nn.BatchNorm2d(a), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(), nn.MaxPool2d(2))
        up = dict(scale_factor=2, mode="bilinear", align_corners=False)
        self.decoder = nn.Sequential(
            nn.Upsample(**up), nn.Conv2d(b, a, 3, padding=1, bias=False), nn.BatchNorm2d(a), nn.ReLU(),
            nn.Upsample(**up), nn.Conv2d(a, 1, 3, padding=1), nn.Sigmoid())

    forward = ConvAE.forward
    loss = ConvAE.loss


def wrong_conv():
    """ConvAE with the last encoder stage at 48 channels instead of 64."""
    m = ConvAE()
    m.encoder[4] = nn.Conv2d(32, 48, 3, stride=2, padding=1)
    m.decoder[0] = nn.ConvTranspose2d(48, 32, 3, stride=2, padding=1)
    return m


MODULES = {"conv": ConvAE, "dense": DenseAE, "vae": VAE, "conv_vae": ConvVAE, "conv_bn": ConvBNAE}
# The libaecv spec of each: the preset and its fields.
SPECS = {name: (name, {}) for name in ("conv", "dense", "vae", "conv_vae")}
SPECS["conv_bn"] = ("conv", dict(channels=[16, 32], batch_norm=True, downsample="max_pool", upsample="bilinear"))
# A module of another shape for the wrong-shape check (same names, other widths).
WRONG = {"conv": wrong_conv, "dense": lambda: DenseAE(latent=32),
         "vae": lambda: VAE(hidden=300), "conv_vae": lambda: ConvVAE(latent=10),
         "conv_bn": lambda: ConvBNAE(channels=(8, 32))}


# ---------------------------------------------------------------------------------------------
# data and files

def load_images(name, count):
    """IDX3 (big-endian header) -> float32 (count, 1, 28, 28) in [0, 1]."""
    with gzip.open(os.path.join(DATA_DIR, name), "rb") as f:
        magic, n, h, w = struct.unpack(">IIII", f.read(16))
        if magic != 2051:
            raise SystemExit(f"{name}: not an IDX3 image file")
        count = min(n, count)
        raw = np.frombuffer(f.read(count * h * w), dtype=np.uint8)
    return (raw.reshape(count, 1, h, w).astype(np.float32) / 255.0)


def save_state_dict(module, path):
    """state_dict -> safetensors (F32), written by hand: u64 LE header length, JSON header
    padded with spaces to 8 bytes, little-endian data."""
    header = {"__metadata__": {"format": "pt"}}
    blobs, offset = [], 0
    for name, tensor in module.state_dict().items():
        data = tensor.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def load_state_dict(path):
    """safetensors -> {name: torch tensor} (any of F32/F64/F16/BF16 would do; libaecv writes
    F32)."""
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    header.pop("__metadata__", None)
    data = blob[8 + n:]
    out = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: {name} is {info['dtype']}, expected F32")
        b, e = info["data_offsets"]
        out[name] = torch.from_numpy(
            np.frombuffer(data[b:e], dtype="<f4").astype(np.float32).reshape(info["shape"]))
    return out


def torch_outputs(module, x):
    """Evaluation mode: BatchNorm with its running statistics, as libaecv's reconstruct."""
    module.eval()
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


# ---------------------------------------------------------------------------------------------

def model(preset, seed):
    name, fields = SPECS[preset]
    return aecv.Autoencoder(name, input_shape=(1, 28, 28), seed=seed, **fields)


def run(preset, train, test, steps, batch, directory, tolerance):
    row = {"preset": preset}
    # torch -> libaecv
    torch.manual_seed(0)
    module = MODULES[preset]()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    for step in range(steps):
        x = torch.from_numpy(train[step * batch:(step + 1) * batch])
        optimizer.zero_grad()
        module.loss(x).backward()
        optimizer.step()
    path = os.path.join(directory, f"{preset}-torch.safetensors")
    save_state_dict(module, path)
    with model(preset, 1) as m:
        m.import_safetensors(path)
        ours = m.reconstruct(test)
    row["torch->aecv"] = float(np.max(np.abs(ours - torch_outputs(module, test))))

    # libaecv -> torch
    with model(preset, 2) as m:
        for step in range(steps):
            m.train_step(train[step * batch:(step + 1) * batch])
        path = os.path.join(directory, f"{preset}-aecv.safetensors")
        m.export_safetensors(path)
        ours = m.reconstruct(test)
    fresh = MODULES[preset]()
    fresh.load_state_dict(load_state_dict(path), strict=True)
    row["aecv->torch"] = float(np.max(np.abs(torch_outputs(fresh, test) - ours)))

    # wrong shapes: refused, model bit-identical
    wrong = WRONG[preset]()
    path = os.path.join(directory, f"{preset}-wrong.safetensors")
    save_state_dict(wrong, path)
    with model(preset, 3) as m:
        m.train_step(train[:batch])
        before_file = os.path.join(directory, "before.aecv")
        after_file = os.path.join(directory, "after.aecv")
        m.save(before_file)
        before = m.reconstruct(test)
        try:
            m.import_safetensors(path)
            row["wrong shape"] = "ACCEPTED (bug)"
        except aecv.ShapeError as exc:
            m.save(after_file)
            unchanged = (open(before_file, "rb").read() == open(after_file, "rb").read()
                         and np.array_equal(before, m.reconstruct(test)))
            row["wrong shape"] = "refused, unchanged" if unchanged else "refused, CHANGED (bug)"
            row["message"] = str(exc)
    row["ok"] = (row["torch->aecv"] <= tolerance and row["aecv->torch"] <= tolerance
                 and row["wrong shape"] == "refused, unchanged")
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=5, help="Adam steps on each side (5)")
    parser.add_argument("--batch", type=int, default=64, help="training batch size (64)")
    parser.add_argument("--test", type=int, default=256, help="test images compared (256)")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    parser.add_argument("--presets", default="conv,dense,vae,conv_vae,conv_bn")
    args = parser.parse_args()

    torch.set_num_threads(1)
    aecv.set_num_threads(1)
    train = load_images("train-images-idx3-ubyte.gz", args.steps * args.batch)
    test = load_images("t10k-images-idx3-ubyte.gz", args.test)
    print(f"torch {torch.__version__}; aecv {aecv.__version__}, libaecv "
          f"{aecv.library_version()} ({aecv.library_path()})")
    print(f"{args.steps} Adam steps (lr 1e-3, batch {args.batch}) on Fashion-MNIST train, "
          f"outputs compared on {args.test} test images; tolerance {args.tolerance:g}\n")
    rows = []
    with tempfile.TemporaryDirectory(prefix="aecv-parity-") as directory:
        for preset in args.presets.split(","):
            rows.append(run(preset, train, test, args.steps, args.batch, directory,
                            args.tolerance))
    print("| preset | torch → libaecv max abs diff | libaecv → torch max abs diff | wrong-shape import |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['preset']} | {r['torch->aecv']:.2e} | {r['aecv->torch']:.2e} | "
              f"{r['wrong shape']} |")
    for r in rows:
        if "message" in r:
            print(f"\n{r['preset']}: {r['message']}")
    ok = all(r["ok"] for r in rows)
    print("\nparity: " + ("PASSED" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
