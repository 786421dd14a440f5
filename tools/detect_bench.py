"""Object detection on Fashion-MNIST canvases through the Python binding (issue 8, part 2).

Recipe: a conv autoencoder (preset "conv", 28x28) pretrained --ae-epochs epochs on the 60,000
Fashion-MNIST training images; a Detector on its encoder with the API's defaults (head of 128
channels, class loss weight 3, test-time flip), everything fine-tuned by Detector.fit's defaults
(Adam 1e-3, batch 64, random left-right mirroring and shifts of up to 8 px, the last fifth of
the epochs at 1e-4) for --epochs epochs (default: fit's, 40) on --train canvases (96x96, 1-4
items, from the train split); then mAP@0.5 and class-agnostic AP@0.5 on --test canvases from the test split. The
same budget with a random backbone shows what the pretraining buys (--backbone
pretrained|random for one).

    PYTHONPATH=bindings/python AECV_LIBRARY=build/lib/libaecv.so.0.1.0 \
        python3 tools/detect_bench.py                      # the full recipe: 20,000 x 40 epochs
    ... tools/detect_bench.py --train 20000 --epochs 8     # a reduced run
"""

import argparse
import json
import time

import numpy as np

import aecv
from aecv.datasets import detection_canvases, fashion_mnist


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=20000)
    ap.add_argument("--test", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=None, help="default: Detector.fit's (40)")
    ap.add_argument("--ae-epochs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--backbone", choices=["both", "pretrained", "random"], default="both",
                    help="which runs (two processes with --threads 1 run them side by side)")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--progress", action="store_true", help="progress bars")
    ap.add_argument("--spec", default="{}", help="detector spec overrides, JSON (default: none)")
    args = ap.parse_args()
    if args.epochs is None:
        args.epochs = aecv.detector.DEFAULT_EPOCHS
    if args.threads:
        aecv.set_num_threads(args.threads)

    Xtr, ytr = fashion_mnist("train")
    Xte, yte = fashion_mnist("test")
    t = time.time()
    train, train_boxes = detection_canvases(Xtr, ytr, args.train, seed=args.seed)
    test, test_boxes = detection_canvases(Xte, yte, args.test, seed=args.seed + 1_000_000)
    print(f"canvases: {args.train} train, {args.test} test ({time.time() - t:.1f} s)", flush=True)

    results = {"train": args.train, "test": args.test, "epochs": args.epochs, "ae_epochs": args.ae_epochs}
    runs = []
    if args.backbone != "random":
        t = time.time()
        ae = aecv.Autoencoder("conv", input_shape=(1, 28, 28), seed=args.seed)
        ae.fit(Xtr, epochs=args.ae_epochs, batch_size=64, progress=False)
        print(f"autoencoder pretrained {args.ae_epochs} epochs ({time.time() - t:.1f} s)", flush=True)
        runs.append(("pretrained", ae))
    if args.backbone != "pretrained":
        runs.append(("random", None))
    for name, backbone in runs:
        det = aecv.Detector(backbone, n_classes=10, input_shape=(1, 96, 96), seed=args.seed,
                            **json.loads(args.spec))
        t = time.time()
        det.fit(train, train_boxes, epochs=args.epochs, progress=args.progress)
        print(f"  {name} losses per epoch: {' '.join(f'{v:.3f}' for v in det.loss_curve_)}", flush=True)
        seconds = time.time() - t
        metrics = det.evaluate(test, test_boxes)
        rate = args.train * args.epochs / seconds
        print(f"{name} backbone: mAP@0.5 {metrics['mAP50']:.4f}, class-agnostic AP@0.5 "
              f"{metrics['AP50_agnostic']:.4f}; training {seconds:.0f} s ({rate:.0f} img/s)", flush=True)
        results[name] = {**metrics, "seconds": seconds, "images_per_second": rate,
                         "loss_curve": det.loss_curve_}
        det.close()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
