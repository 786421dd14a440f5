"""aecv.datasets.ImageFolder / image_folder (Pillow) and fit on an iterable of batches."""
import os

import numpy as np
import pytest

import aecv
from aecv.errors import InvalidArgumentError

PIL = pytest.importorskip("PIL", reason="SKIPPED LOUDLY: Pillow (python3-pil) is not installed")
from PIL import Image  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "Tests", "ImageFixtures")


@pytest.fixture()
def tree(tmp_path):
    rng = np.random.default_rng(0)
    layout = ["dogs/b.jpg", "dogs/a.png", "dogs/sub/z.jpg", "cats/y.png", "cats/deep/q.jpg", "cats/X.jpeg"]
    for i, rel in enumerate(layout):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        w, h = 20 + 7 * i, 31 - 2 * i
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    return tmp_path


def test_order_and_classes_are_torchvisions(tree):
    folder = aecv.datasets.ImageFolder(str(tree), size=8, classes=True)
    rel = [os.path.relpath(f, tree) for f in folder.files]
    assert rel == ["cats/X.jpeg", "cats/y.png", "cats/deep/q.jpg", "dogs/a.png", "dogs/b.jpg", "dogs/sub/z.jpg"]
    assert folder.classes == ["cats", "dogs"]
    assert folder.labels.tolist() == [0, 0, 0, 1, 1, 1]
    X, labels, classes = aecv.datasets.image_folder(str(tree), size=8, channels=1, classes=True)
    assert X.shape == (6, 1, 8, 8) and X.dtype == np.uint8
    assert labels.tolist() == [0, 0, 0, 1, 1, 1] and classes == ["cats", "dogs"]


def test_preparation_matches_the_cli_fixtures():
    """Resize(24) + CenterCrop(24) of the resize source: the bytes the Swift tests check."""
    root = os.path.join(FIXTURES)
    if not os.path.exists(os.path.join(root, "crop_rgb_24.png")):
        pytest.skip("SKIPPED LOUDLY: Tests/ImageFixtures missing")
    folder = aecv.datasets.ImageFolder(root, size=24)
    i = [os.path.basename(f) for f in folder.files].index("resize_src_rgb.png")
    expected = np.asarray(Image.open(os.path.join(root, "crop_rgb_24.png"))).transpose(2, 0, 1)
    assert np.array_equal(folder[i], expected)


def test_fit_on_an_image_folder_streams_batches(tree):
    folder = aecv.datasets.ImageFolder(str(tree), size=16, batch_size=4, seed=3)
    batches = list(folder)
    assert [b.shape for b in batches] == [(4, 3, 16, 16), (2, 3, 16, 16)]
    assert batches[0].dtype == np.float32 and 0 <= batches[0].min() and batches[0].max() <= 1
    m = aecv.Autoencoder("conv", input_shape=(3, 16, 16), seed=0)
    before = m.evaluate(np.stack([folder[i] for i in range(len(folder))]))
    losses = m.fit(folder, epochs=3, progress=False)
    assert len(losses) == 3 and all(np.isfinite(losses))
    after = m.evaluate(np.stack([folder[i] for i in range(len(folder))]))
    assert after < before  # trained on the folder's images
    # A generator serves one epoch; the second is a clear error.
    with pytest.raises(InvalidArgumentError, match="no batches"):
        m.fit((b for b in folder), epochs=2, progress=False)


def test_bad_files_and_folders(tree):
    (tree / "cats" / "broken.jpg").write_text("text, not a JPEG")
    folder = aecv.datasets.ImageFolder(str(tree), size=8)
    with pytest.raises(OSError, match="broken.jpg"):
        folder[[os.path.basename(f) for f in folder.files].index("broken.jpg")]
    with pytest.raises(FileNotFoundError):
        aecv.datasets.ImageFolder(str(tree / "nothing"), size=8)
