"""Golden fixtures for the vision layers (imported and run by tools/make_golden.py).

    /usr/bin/python3 tools/make_golden.py        # also writes vision_layers / vision_model
    /opt/torch2/bin/python tools/golden_vision.py --check   # compares torch 2.x with the fixtures

Both files are safetensors written by make_golden.write_safetensors (F32, NCHW, computed in
float64 on float32 inputs and parameters, as make_golden.py explains).

vision_layers.safetensors: single layers in TRAINING mode, L = sum(layer(x) * R), batch N first.
  Per case <p>: <p>.input, <p>.R, <p>.output, <p>.grad.input, <p>.param.<name> and
  <p>.grad.<name> for each parameter (state_dict names), and for BatchNorm <p>.next.<buffer>
  (running_mean, running_var, num_batches_tracked after that one training forward) and
  <p>.eval.output (the evaluation-mode output with those running statistics).
  The metadata key <p> describes the layer.

A convolution right before a BatchNorm has no bias (its exact gradient is 0, so Adam would
amplify rounding noise into arbitrary updates: not a comparable quantity).

vision_state_dict.safetensors: that model's state_dict after the 3 Adam steps, F32 and I64 (for
  num_batches_tracked) as safetensors.torch.save_file writes it.

vision_model.safetensors: a custom autoencoder with BatchNorm, max pooling, a residual block
  with a 1x1 projection, dropout with p=0, nearest and bilinear upsampling; spec in metadata
  "spec" (JSON), batch 4 of 1x8x8 inputs, MSE loss (mean).
  param.<name> (initial parameters), input, output (training-mode forward), eval.output (evaluation
  mode, initial running statistics), loss, grad.<name>, grad.input;
  adam3.<name> (parameters), adam3.buffer.<name> (running statistics, num_batches_tracked) after
  3 Adam steps (lr 1e-3) each on the same batch in training mode, adam3.losses, and
  adam3.eval.output (evaluation mode after those steps).
"""

import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class Residual(nn.Module):
    """x + body(x), or projection(x) + body(x) when the body changes the shape."""

    def __init__(self, body, projection=None):
        super().__init__()
        self.body = body
        if projection is not None:
            self.projection = projection
        else:
            self.projection = None

    def forward(self, x):
        y = self.body(x)
        return y + (x if self.projection is None else self.projection(x))


class Flatten1(nn.Module):
    """AdaptiveAvgPool2d(1) then flatten: the spec's global_avg_pool."""

    def forward(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


def randomize_affine(module):
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.affine:
            with torch.no_grad():
                m.weight.copy_(1 + 0.5 * torch.randn(m.weight.shape))
                m.bias.copy_(0.5 * torch.randn(m.bias.shape))


def layer_cases():
    """(prefix, module, input shape, description); every module is created under seed 5."""
    return [
        ("mp1", nn.MaxPool2d(2), (2, 2, 6, 6), "MaxPool2d(2)"),
        ("mp2", nn.MaxPool2d(3, 2, 1), (2, 2, 7, 5), "MaxPool2d(3, stride=2, padding=1)"),
        ("ap1", nn.AvgPool2d(3, 2, 1), (2, 2, 7, 5), "AvgPool2d(3, stride=2, padding=1, count_include_pad=True)"),
        ("ap2", nn.AvgPool2d(3, 2, 1, count_include_pad=False), (2, 2, 7, 5),
         "AvgPool2d(3, stride=2, padding=1, count_include_pad=False)"),
        ("gap", Flatten1(), (2, 3, 4, 5), "AdaptiveAvgPool2d(1) + Flatten"),
        ("upn", nn.Upsample(scale_factor=2, mode="nearest"), (2, 2, 3, 4), "Upsample(scale_factor=2, nearest)"),
        ("upb", nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), (2, 2, 3, 4),
         "Upsample(scale_factor=2, bilinear, align_corners=False)"),
        ("upb3", nn.Upsample(scale_factor=3, mode="bilinear", align_corners=False), (2, 1, 3, 5),
         "Upsample(scale_factor=3, bilinear, align_corners=False)"),
        ("bn2", nn.BatchNorm2d(3), (4, 3, 4, 5), "BatchNorm2d(3) (weight, bias randomized)"),
        ("bn2m", nn.BatchNorm2d(2, eps=1e-3, momentum=0.3, affine=False), (3, 2, 3, 3),
         "BatchNorm2d(2, eps=1e-3, momentum=0.3, affine=False)"),
        ("bn1", nn.BatchNorm1d(5, momentum=0.2), (6, 5), "BatchNorm1d(5, momentum=0.2) (weight, bias randomized)"),
        ("gelu", nn.GELU(), (2, 2, 3, 3), "GELU()"),
        ("silu", nn.SiLU(), (2, 2, 3, 3), "SiLU()"),
        ("elu", nn.ELU(0.7), (2, 2, 3, 3), "ELU(alpha=0.7)"),
        ("cnb", nn.Conv2d(2, 3, 3, 2, 1, bias=False), (2, 2, 5, 5), "Conv2d(2, 3, 3, stride=2, padding=1, bias=False)"),
        ("res", Residual(nn.Sequential(nn.Conv2d(2, 3, 3, 2, 1, bias=False), nn.BatchNorm2d(3), nn.ReLU()), nn.Conv2d(2, 3, 1, 2)),
         (4, 2, 6, 6), "Residual(body=[Conv2d(2,3,3,2,1,bias=False), BatchNorm2d(3), ReLU], projection=Conv2d(2,3,1,stride=2))"),
        ("resi", Residual(nn.Sequential(nn.Conv2d(2, 2, 3, 1, 1), nn.Tanh())), (2, 2, 4, 4),
         "Residual(body=[Conv2d(2,2,3,1,1), Tanh]) (identity shortcut)"),
    ]


def layer_tensors():
    torch.manual_seed(5)
    tensors, meta = [], {"loss": "sum(output * R)", "mode": "train"}
    for prefix, module, shape, desc in layer_cases():
        randomize_affine(module)
        x32 = torch.randn(*shape)
        params = {k: v.detach().clone() for k, v in module.named_parameters()}
        m = module.double().train()
        x = x32.double().requires_grad_(True)
        y = m(x)
        r32 = torch.randn(*y.shape)
        (y * r32.double()).sum().backward()
        tensors += [(f"{prefix}.input", x32), (f"{prefix}.R", r32), (f"{prefix}.output", y.detach()),
                    (f"{prefix}.grad.input", x.grad)]
        for k, p in m.named_parameters():
            tensors += [(f"{prefix}.param.{k}", params[k]), (f"{prefix}.grad.{k}", p.grad)]
        buffers = list(m.named_buffers())
        if buffers:
            for k, b in buffers:
                tensors.append((f"{prefix}.next.{k}", b.detach().double()))
            with torch.no_grad():
                tensors.append((f"{prefix}.eval.output", m.eval()(x32.double())))
        meta[prefix] = desc
    return tensors, meta


MODEL_SPEC = {
    "preset": "custom", "input": [1, 8, 8], "loss": "mse",
    "encoder": [
        {"type": "conv2d", "out": 4, "kernel": 3, "padding": 1, "bias": False},
        {"type": "batch_norm2d"}, {"type": "relu"}, {"type": "max_pool2d", "kernel": 2},
        {"type": "residual", "layers": [{"type": "conv2d", "out": 6, "kernel": 3, "stride": 2, "padding": 1, "bias": False},
                                        {"type": "batch_norm2d"}, {"type": "relu"}]},
        {"type": "dropout", "p": 0},
    ],
    "decoder": [
        {"type": "upsample", "scale": 2, "mode": "nearest"},
        {"type": "conv2d", "out": 4, "kernel": 3, "padding": 1, "bias": False},
        {"type": "batch_norm2d", "momentum": 0.2}, {"type": "relu"},
        {"type": "upsample", "scale": 2, "mode": "bilinear"}, {"type": "conv2d", "out": 1, "kernel": 3, "padding": 1},
        {"type": "sigmoid"},
    ],
}


def vision_model():
    model = nn.Module()
    model.encoder = nn.Sequential(
        nn.Conv2d(1, 4, 3, 1, 1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        Residual(nn.Sequential(nn.Conv2d(4, 6, 3, 2, 1, bias=False), nn.BatchNorm2d(6), nn.ReLU()), nn.Conv2d(4, 6, 1, 2)),
        nn.Dropout(0.0))
    model.decoder = nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(6, 4, 3, 1, 1, bias=False), nn.BatchNorm2d(4, momentum=0.2),
        nn.ReLU(), nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), nn.Conv2d(4, 1, 3, 1, 1),
        nn.Sigmoid())
    return model


def model_tensors():
    torch.manual_seed(6)
    model = vision_model()
    randomize_affine(model)
    x32 = torch.rand(4, 1, 8, 8)
    init = {k: v.detach().clone() for k, v in model.named_parameters()}
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}   # before any forward
    tensors = [("param." + k, v) for k, v in init.items()] + [("input", x32)]
    m = model.double()
    with torch.no_grad():
        m.eval()
        tensors.append(("eval.output", m.decoder(m.encoder(x32.double()))))
    m.train()
    x = x32.double().requires_grad_(True)
    out = m.decoder(m.encoder(x))
    loss = F.mse_loss(out, x)
    loss.backward()
    tensors += [("output", out.detach()), ("loss", loss.detach().reshape(1))]
    tensors += [("grad." + k, p.grad.detach().clone()) for k, p in m.named_parameters()]
    tensors.append(("grad.input", x.grad.detach().clone()))

    m = vision_model().double()
    m.load_state_dict({k: (v.double() if v.is_floating_point() else v) for k, v in state.items()})
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    losses = []
    m.train()
    for _ in range(3):
        opt.zero_grad()
        xd = x32.double()
        loss = F.mse_loss(m.decoder(m.encoder(xd)), xd)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    tensors += [("adam3." + k, p.detach().clone()) for k, p in m.named_parameters()]
    tensors += [("adam3.buffer." + k, b.detach().double()) for k, b in m.named_buffers()]
    tensors.append(("adam3.losses", torch.tensor(losses, dtype=torch.float64)))
    global TRAINED_STATE
    TRAINED_STATE = {k: v.detach().clone() for k, v in m.float().state_dict().items()}
    m.double()
    with torch.no_grad():
        m.eval()
        tensors.append(("adam3.eval.output", m.decoder(m.encoder(x32.double()))))
    return tensors, {"spec": json.dumps(MODEL_SPEC, separators=(",", ":")), "batch": 4, "seed": 6}


TRAINED_STATE = None


def write_state_dict(path, state):
    """A state_dict as safetensors.torch.save_file writes it: F32 floats, I64 num_batches_tracked."""
    import struct
    header, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in state.items():
        flat = t.contiguous().reshape(-1).tolist()
        if t.dtype == torch.int64:
            data, dtype = struct.pack(f"<{len(flat)}q", *flat), "I64"
        else:
            data, dtype = struct.pack(f"<{len(flat)}f", *flat), "F32"
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
    return 8 + len(text) + offset


def write_all(save, directory):
    """save(fname, tensors, meta), make_golden.py's writer with its size check."""
    save("vision_layers.safetensors", *layer_tensors())
    save("vision_model.safetensors", *model_tensors())
    # The PyTorch model after the 3 Adam steps, as PyTorch saves it (num_batches_tracked int64):
    # imported into the spec, it must reconstruct vision_model's adam3.eval.output.
    size = write_state_dict(os.path.join(directory, "vision_state_dict.safetensors"), TRAINED_STATE)
    assert size < 100 * 1024, size
    print(f"vision_state_dict.safetensors: {size} bytes, {len(TRAINED_STATE)} tensors")


def check(directory):
    """Recomputes every tensor with this interpreter's torch and compares with the fixtures."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from make_golden import read_safetensors
    worst = 0.0
    torch.set_num_threads(1)
    for fname, (tensors, _) in (("vision_layers.safetensors", layer_tensors()),
                                ("vision_model.safetensors", model_tensors())):
        stored, _ = read_safetensors(os.path.join(directory, fname))
        for name, t in tensors:
            shape, values = stored[name]
            mine = t.detach().to(torch.float32).reshape(-1).tolist()
            d = max((abs(a - b) for a, b in zip(mine, values)), default=0.0)
            scale = max(max((abs(v) for v in values), default=0.0), 1.0)
            worst = max(worst, d / scale)
            assert list(t.shape) == shape, name
    print(f"torch {torch.__version__}: largest difference to the fixtures {worst:.3g} (relative to max(|x|, 1))")
    return worst


if __name__ == "__main__":
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if "--check" in sys.argv:
        sys.exit(0 if check(os.path.join(here, "Tests", "AECVTests", "Fixtures")) < 1e-5 else 1)
    print(__doc__)
