#!/usr/bin/python3
"""Writes the ONNX import fixtures: four small PyTorch autoencoders exported with
torch.onnx.export (opset 17, dynamic batch axis), a fixed input batch, PyTorch's
reconstruction of it, and the reconstruction after 3 Adam steps (lr 1e-3, MSE, mean) on it
(in training mode: BatchNorm normalizes with the batch and updates its running statistics).

    /usr/bin/python3 tools/make_onnx_fixtures.py   # Debian's torch 1.13: torch_*
    ONNX_SITE=$(python3 -c 'import onnx, os; print(os.path.dirname(os.path.dirname(onnx.__file__)))') \
        /opt/torch2/bin/python tools/make_onnx_fixtures.py   # PyTorch 2.13: torch2_*

(torch 2.x's exporter needs the onnx package; ONNX_SITE appends a site-packages that has it.
The TorchScript exporter is used, dynamo=False: the torch.export-based one needs onnxscript.)

Files in Tests/AECVTests/Fixtures/onnx/ (float32 little-endian, row-major):
    <name>.onnx  <name>.input.f32 (3, C, H, W)  <name>.expected.f32  <name>.after3.f32
The tests read them without torch (bindings/python/tests/test_onnx.py, ONNXFixtureTests).
"""
import os
import sys

if os.environ.get("ONNX_SITE"):
    sys.path.append(os.environ["ONNX_SITE"])

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

PREFIX = "torch" if torch.__version__.startswith("1.") else "torch" + torch.__version__[0]
EXTRA = {} if PREFIX == "torch" else {"dynamo": False}

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "AECVTests",
                   "Fixtures", "onnx")


class ConvAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.ReLU(),
                                     nn.Conv2d(8, 16, 3, 2, 1), nn.LeakyReLU(0.1))
        self.decoder = nn.Sequential(nn.ConvTranspose2d(16, 8, 3, 2, 1, output_padding=1),
                                     nn.ReLU(),
                                     nn.ConvTranspose2d(8, 1, 3, 2, 1, output_padding=1),
                                     nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


class DenseAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Tanh(),
                                     nn.Linear(32, 8), nn.ReLU())
        self.decoder = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 64),
                                     nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


class Residual(nn.Module):
    """x + body(x), or body(x) + projection(x) when the body changes the shape."""
    def __init__(self, body, projection=None):
        super().__init__()
        self.body = body
        self.projection = projection

    def forward(self, x):
        return self.body(x) + (x if self.projection is None else self.projection(x))


class VisionAE(nn.Module):
    """The issue-14 layers as PyTorch writes them: BatchNorm (after a ReLU, so the exporter
    cannot fold it into the conv), max and average pooling, an identity and a projected
    residual block, nearest and bilinear upsampling."""
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(3, 8, 3, 1, 1), nn.ReLU(), nn.BatchNorm2d(8), nn.MaxPool2d(2),
            Residual(nn.Sequential(nn.Conv2d(8, 8, 3, 1, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, 1, 1))),
            nn.AvgPool2d(2),
            Residual(nn.Sequential(nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU()), nn.Conv2d(8, 16, 1, 2)))
        self.decoder = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(16, 8, 3, 1, 1), nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.Conv2d(8, 8, 3, 1, 1), nn.ELU(),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(8, 3, 3, 1, 1), nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


class Image8(nn.Module):
    """(N, 64) → (N, 1, 8, 8); nn.Unflatten has no ONNX export in torch 1.13."""
    def forward(self, x):
        return x.reshape(-1, 1, 8, 8)


class PooledAE(nn.Module):
    """Global average pooling and BatchNorm1d in the encoder, a dense decoder.

    Tanh, not ReLU, before the BatchNorm: behind a ReLU that is active for the whole batch the
    Linear's bias gradient is zero in exact arithmetic (BatchNorm removes any shift), so its
    float value is rounding noise, and Adam's first step, lr * g / |g|, turns that noise into a
    full-size update whose sign differs between any two implementations."""
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, 6, 3, 1, 1), nn.ReLU(),
                                     nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 8),
                                     nn.Tanh(), nn.BatchNorm1d(8))
        self.decoder = nn.Sequential(nn.Linear(8, 64), nn.Sigmoid(), Image8())

    def forward(self, x):
        return self.decoder(self.encoder(x))


def write(name, model, shape):
    name = name.replace("torch", PREFIX, 1)
    torch.manual_seed(1)
    x = torch.rand((3,) + shape)
    # Running statistics away from their initial 0 and 1, so that the import must carry them
    # (a separate generator: x and the weights stay what they were before this warm-up).
    warm = torch.Generator().manual_seed(2)
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.rand((8,) + shape, generator=warm) * 2)
    model.eval()
    torch.onnx.export(model, x[:1], os.path.join(OUT, f"{name}.onnx"), opset_version=17,
                      input_names=["input"], output_names=["reconstruction"],
                      dynamic_axes={"input": {0: "batch"}, "reconstruction": {0: "batch"}},
                      **EXTRA)
    with torch.no_grad():
        expected = model(x)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    # Training mode for the steps, as a train step here runs (BatchNorm: batch statistics, and
    # its running statistics move), evaluation mode for the outputs.
    model.train()
    for _ in range(3):
        optimizer.zero_grad()
        y = model(x)  # once per step: each training-mode forward moves BatchNorm's statistics
        loss = nn.functional.mse_loss(y, x.reshape(y.shape))
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        after = model(x)
    for suffix, t in (("input", x), ("expected", expected), ("after3", after)):
        t.detach().numpy().astype("<f4").tofile(os.path.join(OUT, f"{name}.{suffix}.f32"))
    print(name, torch.__version__, tuple(expected.shape))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    write("torch_conv_ae", ConvAE(), (1, 16, 16))
    torch.manual_seed(0)
    write("torch_dense_ae", DenseAE(), (1, 8, 8))
    torch.manual_seed(0)
    write("torch_vision_ae", VisionAE(), (3, 16, 16))
    torch.manual_seed(0)
    write("torch_pooled_ae", PooledAE(), (1, 8, 8))
