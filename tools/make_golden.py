#!/usr/bin/python3
"""Golden-value fixtures from PyTorch for the Swift tests (which never need torch).

Run from the repository root with Debian's python3-torch (the pyenv `python3` on PATH has no torch):

    /usr/bin/python3 tools/make_golden.py            # writes Tests/AECVTests/Fixtures/*.safetensors
    /usr/bin/python3 tools/make_golden.py --full --out /tmp/full   # full preset widths (big files)

The output is reproducible: seeds are fixed, the inputs are the first 4 Fashion-MNIST test images,
and running the script twice gives byte-identical files.

File format: safetensors, written by hand (no numpy, no safetensors package): 8-byte little-endian
u64 header length, a JSON header {name: {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}}
padded with spaces to a multiple of 8, then little-endian float32 data. Every tensor is F32.
`__metadata__` holds "format": "pt" plus string-valued keys describing the case (for the model
fixtures: the spec fields "preset", "input", "hidden", "latent", "loss", "batch"), so a test can
build the matching `ModelSpec`.

Precision: modules are created in float32 with PyTorch's default initialization under
torch.manual_seed, and inputs are float32 values. Every reference quantity is then computed on
float64 copies of exactly those float32 values (forward, backward and the optimizer steps) and
rounded to float32 only when stored, so the fixtures carry the exact answer for the stored float32
inputs; the only error a float32 implementation must explain is its own rounding.

Size: each fixture must stay under 400 KB, but the full dense (784-256-64) and VAE (784-400-20)
presets have 1.7 MB / 2.6 MB of parameters per copy (and each fixture stores four copies: initial,
gradient, after Adam, after SGD). The model fixtures therefore use the preset ARCHITECTURES with
smaller widths (given by the metadata "hidden"/"latent", the same fields the Swift spec takes); the
input stays the real 1x28x28 image, so every code path and shape rule is the preset's. The script
still builds the full presets to assert their parameter counts (conv 46529). `--full` writes the
full-width versions (tens of MB, not committed).

Model fixtures (batch of 4, "input" = first 4 test images / 255):
  conv_mse.safetensors   conv preset, hidden (channels) [8, 16, 32]; encoder
                         Conv2d(1,c1,3,2,1) ReLU Conv2d(c1,c2,3,2,1) ReLU Conv2d(c2,c3,3,2,1) ReLU;
                         decoder ConvTranspose2d(c3,c2,3,2,1,op=0) ReLU ConvTranspose2d(c2,c1,3,2,1,op=1)
                         ReLU ConvTranspose2d(c1,1,3,2,1,op=1) Sigmoid; loss MSELoss (mean).
                         input/output/grad.input (4,1,28,28), code (4,c3,4,4).
  dense_mse.safetensors  dense preset, hidden [12], latent 6: encoder Linear(784,h) ReLU
                         Linear(h,latent) ReLU; decoder Linear(latent,h) ReLU Linear(h,784) Sigmoid;
                         MSELoss (mean). input/output/grad.input (4,784), code (4,latent).
  dense_bce.safetensors  same model and initial weights as dense_mse, BCELoss (mean) on the output.
  vae.safetensors        vae preset, hidden [12], latent 5: h = relu(fc1(x)); mu = fc_mu(h);
                         logvar = fc_logvar(h); z = mu + exp(0.5*logvar)*eps with the stored "eps";
                         logits = fc4(relu(fc3(z))); loss = (BCEWithLogits(logits, x, sum) + KL)/batch,
                         KL = -0.5*sum(1 + logvar - mu^2 - exp(logvar)). "output" = logits (4,784),
                         "code" = mu (4,latent); extra "logvar", "z" (4,latent), "eps" (4,latent),
                         "loss_recon" and "loss_kl" (per-example means, shape [1]; they sum to loss).
  Each model fixture holds:
    param.<name>   initial parameters (PyTorch default init, seed below), <name> the state_dict name
                   (encoder.0.weight, decoder.4.bias, fc1.weight, ...). Linear weight (out, in);
                   Conv2d weight (out, in, k, k); ConvTranspose2d weight (in, out, k, k).
    input, output, code, loss [1]
    grad.<name>    dLoss/dparam at the initial parameters; grad.input = dLoss/dinput
    adam3.<name>   parameters after 3 Adam steps (lr 1e-3, betas (0.9, 0.999), eps 1e-8, no weight
                   decay), each step a fresh forward/backward on the same batch (VAE: same eps)
    adam3.losses   [3] the loss before each of those steps (adam3.losses[0] == loss)
    sgd3.<name>, sgd3.losses   the same with SGD lr 0.01, momentum 0.9 (PyTorch: the first step
                   sets the buffer to the gradient, no dampening, no nesterov), from the initial params

Layer fixture layers.safetensors, four single layers on random inputs (batch 2), each with loss
L = sum(output * R) for a stored random R (so dL/doutput = R):
  ct1  ConvTranspose2d(3, 2, kernel 3, stride 2, padding 1, output_padding 1): input (2,3,5,6) -> (2,2,10,12)
  ct2  ConvTranspose2d(2, 3, kernel 4, stride 2, padding 1):                   input (2,2,5,6) -> (2,3,10,12)
  c1   Conv2d(2, 3, kernel 3, stride 1, padding 1):                            input (2,2,5,6) -> (2,3,5,6)
  c2   Conv2d(3, 2, kernel 5, stride 3, padding 2):                            input (2,3,7,8) -> (2,2,3,3)
  Tensors per case <p>: <p>.weight, <p>.bias, <p>.input, <p>.output, <p>.R, <p>.grad.weight,
  <p>.grad.bias, <p>.grad.input. The metadata key "<p>" describes the layer.

vision_layers.safetensors, vision_model.safetensors: pooling, upsampling, BatchNorm, GELU/SiLU/ELU,
  conv2d without bias, residual blocks, and a custom model built from them; see tools/golden_vision.py.
"""

import argparse
import gzip
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "Tests", "AECVTests", "Fixtures")
MAX_FIXTURE_BYTES = 400 * 1024
BATCH = 4

# Widths of the committed fixtures (see "Size" above) and of the real presets.
SMALL = {"conv": [8, 16, 32], "dense": ([12], 6), "vae": ([12], 5)}
FULL = {"conv": [16, 32, 64], "dense": ([256], 64), "vae": ([400], 20)}


# ---------------------------------------------------------------------------------------------
# safetensors, by hand

def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, torch tensor); stored as little-endian float32."""
    header = {"__metadata__": dict({"format": "pt"}, **metadata)}
    chunks, offset = [], 0
    for name, t in tensors:
        assert name not in header, f"duplicate tensor name {name}"
        flat = t.detach().to(torch.float32).contiguous().reshape(-1).tolist()
        data = struct.pack(f"<{len(flat)}f", *flat)
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)
    return 8 + len(text) + offset


def read_safetensors(path):
    """Round-trip check of the writer: returns ({name: (shape, [floats])}, metadata)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert n % 8 == 0
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__")
    data = blob[8 + n:]
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        assert info["dtype"] == "F32" and e - b == 4 * math.prod(info["shape"])
        out[name] = (info["shape"], list(struct.unpack(f"<{(e - b) // 4}f", data[b:e])))
    return out, meta


# ---------------------------------------------------------------------------------------------
# data

def load_idx_images(path, count=None):
    """IDX3 (magic 2051, big-endian dims) -> float32 tensor (N, 1, H, W) scaled to [0, 1]."""
    with gzip.open(path, "rb") as f:
        magic, n, h, w = struct.unpack(">IIII", f.read(16))
        assert magic == 2051, f"{path}: not an IDX3 image file"
        n = n if count is None else min(n, count)
        raw = f.read(n * h * w)
    pixels = torch.tensor(list(raw), dtype=torch.float32).reshape(n, 1, h, w)
    return pixels / 255.0


# ---------------------------------------------------------------------------------------------
# models (the presets, widths as parameters)

def conv_ae(channels):
    c1, c2, c3 = channels
    model = nn.Module()
    model.encoder = nn.Sequential(
        nn.Conv2d(1, c1, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(c1, c2, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(c2, c3, 3, 2, 1), nn.ReLU())
    model.decoder = nn.Sequential(
        nn.ConvTranspose2d(c3, c2, 3, 2, 1, output_padding=0), nn.ReLU(),
        nn.ConvTranspose2d(c2, c1, 3, 2, 1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(c1, 1, 3, 2, 1, output_padding=1), nn.Sigmoid())
    return model


def dense_ae(hidden, latent, inputs=784):
    (hidden,) = hidden  # one hidden width, as the preset
    model = nn.Module()
    model.encoder = nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(),
                                  nn.Linear(hidden, latent), nn.ReLU())
    model.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(),
                                  nn.Linear(hidden, inputs), nn.Sigmoid())
    return model


class VAE(nn.Module):
    def __init__(self, hidden, latent, inputs=784):
        super().__init__()
        (hidden,) = hidden
        self.fc1 = nn.Linear(inputs, hidden)
        self.fc_mu = nn.Linear(hidden, latent)
        self.fc_logvar = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, inputs)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def ae_step(model, x, loss_kind):
    """Forward of conv/dense AE -> dict with loss (scalar), output, code."""
    code = model.encoder(x)
    out = model.decoder(code)
    if loss_kind == "mse":
        loss = F.mse_loss(out, x)
    else:
        loss = F.binary_cross_entropy(out, x)
    return {"loss": loss, "output": out, "code": code}


def vae_step(model, x, eps):
    h = F.relu(model.fc1(x))
    mu, logvar = model.fc_mu(h), model.fc_logvar(h)
    z = mu + torch.exp(0.5 * logvar) * eps
    logits = model.fc4(F.relu(model.fc3(z)))
    n = x.shape[0]
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n
    return {"loss": recon + kl, "output": logits, "code": mu, "logvar": logvar, "z": z,
            "loss_recon": recon, "loss_kl": kl}


# ---------------------------------------------------------------------------------------------
# fixtures

def model_fixture(model, x32, step, extra_inputs=()):
    """model: float32 module with its initial weights; x32: float32 input; step(model, x) -> dict.
    Returns the list of (name, tensor) described in the module docstring (computed in float64)."""
    names = [name for name, _ in model.named_parameters()]
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    assert list(init) == names, "buffers are not expected"
    tensors = [("param." + k, init[k]) for k in names]

    m = model.double()
    x = x32.double().requires_grad_(True)
    r = step(m, x)
    m.zero_grad()
    r["loss"].backward()
    tensors.append(("input", x32))
    tensors += list(extra_inputs)
    tensors += [("output", r["output"]), ("code", r["code"])]
    for k in ("logvar", "z"):
        if k in r:
            tensors.append((k, r[k]))
    tensors.append(("loss", r["loss"].reshape(1)))
    for k in ("loss_recon", "loss_kl"):
        if k in r:
            tensors.append((k, r[k].reshape(1)))
    # Clone: the optimizers below zero .grad in place and load_state_dict writes params in place.
    tensors += [("grad." + k, p.grad.detach().clone()) for k, p in m.named_parameters()]
    tensors.append(("grad.input", x.grad.detach().clone()))

    for tag, make_opt in (("adam3", lambda ps: torch.optim.Adam(ps, lr=1e-3)),
                          ("sgd3", lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9))):
        m.load_state_dict({k: v.double() for k, v in init.items()})
        opt = make_opt(m.parameters())
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = step(m, x32.double())["loss"]
            loss.backward()
            opt.step()
            losses.append(loss.item())
        tensors += [(f"{tag}.{k}", p.detach().clone()) for k, p in m.named_parameters()]
        tensors.append((f"{tag}.losses", torch.tensor(losses, dtype=torch.float64)))
    m.float()
    return tensors


def layer_case(prefix, layer, input_shape):
    """Single layer, L = sum(layer(x) * R)."""
    x32 = torch.randn(*input_shape)
    w32, b32 = layer.weight.detach().clone(), layer.bias.detach().clone()
    layer = layer.double()
    x = x32.double().requires_grad_(True)
    y = layer(x)
    r32 = torch.randn(*y.shape)
    (y * r32.double()).sum().backward()
    return [(f"{prefix}.weight", w32), (f"{prefix}.bias", b32), (f"{prefix}.input", x32),
            (f"{prefix}.output", y), (f"{prefix}.R", r32), (f"{prefix}.grad.weight", layer.weight.grad),
            (f"{prefix}.grad.bias", layer.bias.grad), (f"{prefix}.grad.input", x.grad)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output directory (default: %(default)s)")
    ap.add_argument("--full", action="store_true",
                    help="full preset widths (files far above the 400 KB budget; not for the repo)")
    args = ap.parse_args()
    widths = FULL if args.full else SMALL
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)  # determinism of reductions does not depend on the machine's cores

    # The real presets: parameter counts and shapes, as documented in include/aecv.h.
    torch.manual_seed(0)
    conv_full, dense_full, vae_full = conv_ae(FULL["conv"]), dense_ae(*FULL["dense"]), VAE(*FULL["vae"])
    assert n_params(conv_full) == 46529, n_params(conv_full)
    assert n_params(dense_full) == 435536, n_params(dense_full)
    assert n_params(vae_full) == 652824, n_params(vae_full)
    with torch.no_grad():
        probe = torch.zeros(BATCH, 1, 28, 28)
        assert tuple(conv_full.encoder(probe).shape) == (BATCH, 64, 4, 4)
        assert tuple(conv_full.decoder(conv_full.encoder(probe)).shape) == (BATCH, 1, 28, 28)

    images = load_idx_images(os.path.join(DATA_DIR, "t10k-images-idx3-ubyte.gz"), BATCH)
    flat = images.reshape(BATCH, 784)
    written = {}

    def save(fname, tensors, meta):
        path = os.path.join(args.out, fname)
        size = write_safetensors(path, tensors, {k: str(v) for k, v in meta.items()})
        back, _ = read_safetensors(path)
        for name, t in tensors:
            shape, values = back[name]
            assert shape == list(t.shape)
            assert values == t.detach().to(torch.float32).reshape(-1).tolist(), name
        if not args.full:
            assert size < MAX_FIXTURE_BYTES, f"{fname}: {size} bytes"
        written[fname] = (size, [name for name, _ in tensors])

    # a. conv + MSE
    torch.manual_seed(0)
    conv = conv_ae(widths["conv"])
    with torch.no_grad():
        assert tuple(conv.decoder(conv.encoder(images)).shape) == (BATCH, 1, 28, 28)
    save("conv_mse.safetensors", model_fixture(conv, images, lambda m, x: ae_step(m, x, "mse")),
         {"preset": "conv", "input": [1, 28, 28], "hidden": widths["conv"], "loss": "mse",
          "batch": BATCH, "seed": 0, "params": n_params(conv)})

    # b, c. dense + MSE, dense + BCE (same initial weights)
    hidden, latent = widths["dense"]
    for loss_kind in ("mse", "bce"):
        torch.manual_seed(1)
        dense = dense_ae(hidden, latent)
        save(f"dense_{loss_kind}.safetensors",
             model_fixture(dense, flat, lambda m, x, k=loss_kind: ae_step(m, x, k)),
             {"preset": "dense", "input": [1, 28, 28], "hidden": hidden, "latent": latent,
              "loss": loss_kind, "batch": BATCH, "seed": 1, "params": n_params(dense)})

    # d. VAE with a given eps
    hidden, latent = widths["vae"]
    torch.manual_seed(2)
    vae = VAE(hidden, latent)
    eps32 = torch.randn(BATCH, latent)
    save("vae.safetensors",
         model_fixture(vae, flat, lambda m, x: vae_step(m, x, eps32.double()), [("eps", eps32)]),
         {"preset": "vae", "input": [1, 28, 28], "hidden": hidden, "latent": latent,
          "loss": "bce", "beta": 1, "batch": BATCH, "seed": 2, "params": n_params(vae)})

    # Layer cases
    torch.manual_seed(3)
    cases = [
        ("ct1", nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1), (2, 3, 5, 6),
         "ConvTranspose2d(in=3, out=2, kernel=3, stride=2, padding=1, output_padding=1)"),
        ("ct2", nn.ConvTranspose2d(2, 3, 4, stride=2, padding=1), (2, 2, 5, 6),
         "ConvTranspose2d(in=2, out=3, kernel=4, stride=2, padding=1, output_padding=0)"),
        ("c1", nn.Conv2d(2, 3, 3, stride=1, padding=1), (2, 2, 5, 6),
         "Conv2d(in=2, out=3, kernel=3, stride=1, padding=1)"),
        ("c2", nn.Conv2d(3, 2, 5, stride=3, padding=2), (2, 3, 7, 8),
         "Conv2d(in=3, out=2, kernel=5, stride=3, padding=2)"),
    ]
    tensors, meta = [], {"loss": "sum(output * R)"}
    for prefix, layer, shape, desc in cases:
        tensors += layer_case(prefix, layer, shape)
        meta[prefix] = desc
    save("layers.safetensors", tensors, meta)

    # Vision layers and a model with BatchNorm, pooling, upsampling and a residual block.
    import golden_vision
    golden_vision.write_all(save, args.out)

    for fname, (size, names) in written.items():
        print(f"{fname}: {size} bytes, {len(names)} tensors")
        print("   " + " ".join(names))


if __name__ == "__main__":
    main()
