"""Writes Fashion-MNIST object-detection canvases (aecv.datasets.detection_canvases) to files:
an .npz with "images" (n, 1, size, size) float32, "boxes" (n, 4, 5) float32 padded with class -1
rows (the layout aecv_detector_train_step takes) and "counts" (n,), and optionally the first
--png canvases as PNG files with a boxes.json (for `aecv detect`).

    PYTHONPATH=bindings/python AECV_LIBRARY=build/lib/libaecv.so.0.1.0 \
        python3 tools/detection_canvases.py --split test --n 2000 --seed 1000000 --out test.npz --png 8 --png-dir canvases/

Rules (issue 8): 96x96 black canvases with 1-4 items resized to 20-40 px squares (bilinear),
fully inside, merged with a pixel-wise max, an item rejected when its box overlaps a placed one
at IoU > 0.3; tight boxes from pixels > 0.05; train canvases from the train split, test canvases
from the test split; seeded.
"""

import argparse
import json
import os
import struct
import zlib

import numpy as np

from aecv.datasets import FASHION_MNIST_CLASSES, detection_canvases, fashion_mnist


def write_png(path, grey):
    """8-bit greyscale PNG from an (h, w) uint8 array (no dependency beyond zlib)."""
    h, w = grey.shape
    raw = b"".join(b"\0" + grey[y].tobytes() for y in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=["train", "test"], default="train")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--out", required=True, help=".npz file")
    ap.add_argument("--png", type=int, default=0, help="also write the first N canvases as PNG")
    ap.add_argument("--png-dir", default="canvases")
    args = ap.parse_args()
    X, y = fashion_mnist(args.split)
    images, boxes = detection_canvases(X, y, args.n, seed=args.seed, size=args.size)
    padded = np.full((args.n, 4, 5), -1, np.float32)
    for i, b in enumerate(boxes):
        padded[i, :len(b)] = b
    np.savez_compressed(args.out, images=images, boxes=padded, counts=np.array([len(b) for b in boxes]))
    print(f"wrote {args.out}: {args.n} canvases, {sum(len(b) for b in boxes)} boxes")
    if args.png:
        os.makedirs(args.png_dir, exist_ok=True)
        listing = []
        for i in range(min(args.png, args.n)):
            name = f"canvas{i:04d}.png"
            write_png(os.path.join(args.png_dir, name), (images[i, 0] * 255).round().astype(np.uint8))
            listing.append({"image": name, "boxes": [
                {"class": int(r[0]), "name": FASHION_MNIST_CLASSES[int(r[0])], "box": [float(v) for v in r[1:]]}
                for r in boxes[i]]})
        with open(os.path.join(args.png_dir, "boxes.json"), "w") as f:
            json.dump(listing, f, indent=1)
        print(f"wrote {len(listing)} PNGs and boxes.json to {args.png_dir}")


if __name__ == "__main__":
    main()
