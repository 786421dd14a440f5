#!/usr/bin/python3
"""Writes the ONNX import fixtures: two small PyTorch autoencoders exported with
torch.onnx.export (opset 17, dynamic batch axis), a fixed input batch, PyTorch's
reconstruction of it, and the reconstruction after 3 Adam steps (lr 1e-3, MSE, mean) on it.

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


def write(name, model, shape):
    name = name.replace("torch", PREFIX, 1)
    torch.manual_seed(1)
    x = torch.rand((3,) + shape)
    model.eval()
    torch.onnx.export(model, x[:1], os.path.join(OUT, f"{name}.onnx"), opset_version=17,
                      input_names=["input"], output_names=["reconstruction"],
                      dynamic_axes={"input": {0: "batch"}, "reconstruction": {0: "batch"}},
                      **EXTRA)
    with torch.no_grad():
        expected = model(x)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(3):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), x.reshape(3, -1).reshape(model(x).shape))
        loss.backward()
        optimizer.step()
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
