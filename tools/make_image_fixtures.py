#!/usr/bin/env python3
"""Writes the image fixtures of Tests/ImageFixtures/ (run with /usr/bin/python3: needs numpy and
Pillow, Debian's python3-numpy and python3-pil). The Swift tests read these files and never need
Python.

  png_<name>.png        PNGs of every colour type and bit depth (palette, tRNS, 16-bit, Adam7),
                        written by the small encoder below, and png_<name>.expected.png: the 8-bit
                        pixels libpng must produce (palette -> RGB, tRNS -> alpha, low-bit grey
                        scaled to 0..255, 16-bit -> high byte), checked against Pillow where
                        Pillow reads the mode as 8-bit.
  jpeg_<name>.jpg       baseline / progressive / grey JPEGs and the 8 EXIF orientations (Pillow),
                        with jpeg_<name>.expected.png: Pillow's decode (after
                        ImageOps.exif_transpose).
  jpeg_cmyk.jpg         a CMYK JPEG (must be refused).
  resize_src_rgb.png, resize_src_grey.png and resize_<src>_<W>x<H>.png: Pillow's
                        Image.resize((W, H), BILINEAR) (antialiased, as torchvision's Resize);
                        crop_<src>_<S>.png: torchvision's Resize(S) + CenterCrop(S) done with
                        Pillow exactly as torchvision does it.
  skimage_<name>_<W>x<H>.png: Pillow's resize of skimage's sample images (the sources are read
                        from python3-skimage by the tests).
"""
import io
import os
import struct
import zlib

import numpy as np
from PIL import Image, ImageOps

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ImageFixtures")
SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"
rng = np.random.default_rng(15)


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pack_row(values, depth):
    """values: 1-D array of samples (already interleaved) -> bytes of one PNG row."""
    if depth == 16:
        return values.astype(">u2").tobytes()
    if depth == 8:
        return values.astype(np.uint8).tobytes()
    per = 8 // depth
    out = bytearray()
    for i in range(0, len(values), per):
        byte = 0
        group = values[i:i + per]
        for j in range(per):
            v = int(group[j]) if j < len(group) else 0
            byte |= v << (8 - depth * (j + 1))
        out.append(byte)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, samples, colour, depth, interlace=False, plte=None, trns=None):
    """samples: (H, W, C) array of raw sample values (palette indices for colour type 3)."""
    h, w = samples.shape[:2]
    raw = bytearray()
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.size == 0:
                continue
            for row in sub:
                raw.append(0)
                raw += pack_row(row.reshape(-1), depth)
    else:
        for row in samples:
            raw.append(0)
            raw += pack_row(row.reshape(-1), depth)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, int(interlace)))
    if plte is not None:
        data += chunk(b"PLTE", plte.astype(np.uint8).tobytes())
    if trns is not None:
        data += chunk(b"tRNS", trns)
    data += chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def save_expected(path, pixels):
    """pixels: (H, W, C) uint8, C in 1..4."""
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[pixels.shape[2]]
    Image.fromarray(pixels[:, :, 0] if mode == "L" else pixels, mode).save(path)


def png_fixtures():
    h, w = 9, 13
    for depth in (1, 2, 4, 8, 16):
        top = (1 << depth) - 1
        grey = rng.integers(0, top + 1, size=(h, w, 1))
        expected = (grey >> 8) if depth == 16 else grey * (255 // top)
        for interlace in (False, True):
            name = f"grey{depth}" + ("_adam7" if interlace else "")
            write_png(f"{OUT}/png_{name}.png", grey, 0, depth, interlace)
            save_expected(f"{OUT}/png_{name}.expected.png", expected.astype(np.uint8))
            if depth == 8:
                assert np.array_equal(np.asarray(Image.open(f"{OUT}/png_{name}.png")), expected[:, :, 0])
    # grey + tRNS: the matching grey value becomes transparent (alpha 0), all else opaque.
    grey = rng.integers(0, 256, size=(h, w, 1))
    grey[0, 0, 0] = 77
    write_png(f"{OUT}/png_grey8_trns.png", grey, 0, 8, trns=struct.pack(">H", 77))
    save_expected(f"{OUT}/png_grey8_trns.expected.png",
                  np.concatenate([grey, np.where(grey == 77, 0, 255)], axis=2).astype(np.uint8))
    for colour, channels, label in ((2, 3, "rgb"), (4, 2, "greyalpha"), (6, 4, "rgba")):
        for depth in (8, 16):
            values = rng.integers(0, 1 << depth, size=(h, w, channels))
            expected = (values >> 8) if depth == 16 else values
            for interlace in (False, True):
                name = f"{label}{depth}" + ("_adam7" if interlace else "")
                write_png(f"{OUT}/png_{name}.png", values, colour, depth, interlace)
                save_expected(f"{OUT}/png_{name}.expected.png", expected.astype(np.uint8))
                if depth == 8 or label == "rgb":  # Pillow reads these as 8-bit (16-bit RGB: high byte)
                    pil = np.asarray(Image.open(f"{OUT}/png_{name}.png"))
                    assert np.array_equal(pil.reshape(h, w, channels), expected), name
    rgb = rng.integers(0, 256, size=(h, w, 3))
    rgb[2, 3] = [10, 20, 30]
    write_png(f"{OUT}/png_rgb8_trns.png", rgb, 2, 8, trns=struct.pack(">HHH", 10, 20, 30))
    alpha = np.where(np.all(rgb == [10, 20, 30], axis=2, keepdims=True), 0, 255)
    save_expected(f"{OUT}/png_rgb8_trns.expected.png", np.concatenate([rgb, alpha], axis=2).astype(np.uint8))
    for depth in (1, 2, 4, 8):
        n = 1 << depth
        palette = rng.integers(0, 256, size=(n, 3))
        index = rng.integers(0, n, size=(h, w, 1))
        for interlace in (False, True):
            name = f"palette{depth}" + ("_adam7" if interlace else "")
            write_png(f"{OUT}/png_{name}.png", index, 3, depth, interlace, plte=palette)
            expected = palette[index[:, :, 0]].astype(np.uint8)
            save_expected(f"{OUT}/png_{name}.expected.png", expected)
            pil = np.asarray(Image.open(f"{OUT}/png_{name}.png").convert("RGB"))
            assert np.array_equal(pil, expected), name
    # palette + tRNS: alpha per palette entry (shorter than the palette: the rest are opaque).
    palette = rng.integers(0, 256, size=(16, 3))
    index = rng.integers(0, 16, size=(h, w, 1))
    trns = bytes([0, 128, 255, 7])
    write_png(f"{OUT}/png_palette4_trns.png", index, 3, 4, plte=palette, trns=trns)
    alpha = np.array(list(trns) + [255] * 12)[index]
    expected = np.concatenate([palette[index[:, :, 0]], alpha], axis=2).astype(np.uint8)
    save_expected(f"{OUT}/png_palette4_trns.expected.png", expected)
    pil = np.asarray(Image.open(f"{OUT}/png_palette4_trns.png").convert("RGBA"))
    assert np.array_equal(pil, expected)


def photo_like(h, w, channels):
    """Smooth gradients and blobs plus noise, like a photograph (so JPEG and resizing have work)."""
    y, x = np.mgrid[0:h, 0:w]
    planes = []
    for c in range(channels):
        v = 128 + 80 * np.sin(x / (5.0 + 3 * c)) * np.cos(y / (7.0 + c)) + 40 * np.sin((x + 2 * y) / 13.0)
        planes.append(v + rng.normal(0, 12, size=(h, w)))
    return np.clip(np.stack(planes, axis=2), 0, 255).astype(np.uint8)


def jpeg_fixtures():
    rgb = Image.fromarray(photo_like(24, 40, 3))
    grey = Image.fromarray(photo_like(24, 40, 1)[:, :, 0])

    def save(image, name, **options):
        path = f"{OUT}/jpeg_{name}.jpg"
        image.save(path, "JPEG", **options)
        decoded = ImageOps.exif_transpose(Image.open(path))
        decoded.save(f"{OUT}/jpeg_{name}.expected.png")

    save(rgb, "baseline", quality=90)
    save(rgb, "progressive", quality=90, progressive=True)
    save(rgb, "subsampled420", quality=75, subsampling=2)
    save(grey, "grey", quality=90)
    save(grey, "grey_progressive", quality=90, progressive=True)
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        save(rgb, f"orientation{orientation}", quality=90, exif=exif.tobytes())
    Image.fromarray(photo_like(16, 16, 4), "CMYK").save(f"{OUT}/jpeg_cmyk.jpg", "JPEG")


def crop_like_torchvision(image, size):
    """torchvision.transforms: Resize(size) (shorter side, bilinear with antialias on PIL) then
    CenterCrop(size)."""
    w, h = image.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(size * long / short)
    new_w, new_h = (size, new_long) if w <= h else (new_long, size)
    image = image.resize((new_w, new_h), Image.BILINEAR)
    top = int(round((new_h - size) / 2.0))
    left = int(round((new_w - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def resize_fixtures():
    sources = {"rgb": Image.fromarray(photo_like(61, 97, 3)),
               "grey": Image.fromarray(photo_like(47, 61, 1)[:, :, 0])}
    for name, image in sources.items():
        image.save(f"{OUT}/resize_src_{name}.png")
        for w, h in ((32, 32), (64, 40), (13, 50), (150, 100), (97, 30)):
            image.resize((w, h), Image.BILINEAR).save(f"{OUT}/resize_{name}_{w}x{h}.png")
        for s in (32, 24):
            crop_like_torchvision(image, s).save(f"{OUT}/crop_{name}_{s}.png")
    for name in ("chelsea.png", "camera.png", "rocket.jpg"):
        path = os.path.join(SKIMAGE, name)
        if os.path.exists(path):
            image = ImageOps.exif_transpose(Image.open(path))
            base = os.path.splitext(name)[0]
            image.resize((64, 64), Image.BILINEAR).save(f"{OUT}/skimage_{base}_64x64.png")
            crop_like_torchvision(image, 128).save(f"{OUT}/skimage_{base}_crop128.png")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    png_fixtures()
    jpeg_fixtures()
    resize_fixtures()
    print(f"wrote {len(os.listdir(OUT))} files into {os.path.normpath(OUT)}")
