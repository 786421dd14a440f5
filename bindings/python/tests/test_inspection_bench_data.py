"""The data generator of tools/inspection_bench.py (no training, no torch): the synthetic
defects and their masks agree, so the benchmark's pixel AUROC and PRO measure what they claim."""

import importlib.util
import os

import numpy as np
import pytest

pytest.importorskip("PIL", reason="SKIPPED LOUDLY: Pillow (python3-pil) is not installed")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BENCH = os.path.join(REPO, "tools", "inspection_bench.py")


@pytest.fixture(scope="module")
def bench():
    if not os.path.exists(BENCH):
        pytest.skip(f"SKIPPED LOUDLY: {BENCH} not found (tests run outside the source tree)")
    spec = importlib.util.spec_from_file_location("inspection_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in module.TEXTURES + ("camera",):
        if not os.path.exists(os.path.join(module.SKIMAGE_DATA, f"{name}.png")):
            pytest.skip(f"SKIPPED LOUDLY: skimage's {name}.png missing (install python3-skimage)")
    return module


@pytest.mark.parametrize("texture", ["brick", "grass", "gravel"])
def test_masks_match_defects(bench, texture):
    d = bench.make_dataset(texture, patch=64, n_train=8, n_test=30, seed=3)
    assert d["train"].shape == (8, 1, 64, 64) and d["test"].shape == (30, 1, 64, 64)
    diff = np.abs(d["test"][:, 0] - d["clean"][:, 0])
    good = d["y"] == 0
    assert good.sum() == 15 and (d["kinds"][good] == -1).all()
    # good patches: empty mask, untouched pixels
    assert d["masks"][good].sum() == 0 and diff[good].max() == 0
    for i in np.flatnonzero(~good):
        m = d["masks"][i].astype(bool)
        area = m.mean()
        assert 0.003 < area < 0.12, f"patch {i} ({bench.KINDS[d['kinds'][i]]}): mask area {area}"
        assert diff[i][~m].max() == 0, f"patch {i}: pixels changed outside the mask"
        assert diff[i][m].mean() >= 0.05, f"patch {i}: the defect barely changes the pixels"
        assert (diff[i][m] > 0).mean() > 0.9, f"patch {i}: mask pixels left unchanged"
    # every kind occurs, and images stay in [0, 1]
    assert set(d["kinds"][~good]) == {0, 1, 2}
    assert d["test"].min() >= 0 and d["test"].max() <= 1


def test_deterministic_and_halves_disjoint(bench):
    a = bench.make_dataset("grass", patch=64, n_train=4, n_test=6, seed=1)
    b = bench.make_dataset("grass", patch=64, n_train=4, n_test=6, seed=1)
    c = bench.make_dataset("grass", patch=64, n_train=4, n_test=6, seed=2)
    for key in ("train", "test", "masks"):
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["test"], c["test"])
    # train crops come from the left half, test crops from the right: no test patch is a crop
    # of the training half
    image = bench.load_grey("grass")
    half = image.shape[1] // 2
    left, right = image[:, :half], image[:, half:]

    def found(patch, region):
        H, W = region.shape
        return any(np.array_equal(region[r:r + 64, c:c + 64], patch)
                   for r in range(H - 63) for c in range(W - 63))

    assert found(a["train"][0, 0], left)
    assert found(a["clean"][0, 0], right) and not found(a["clean"][0, 0], left)


def test_patch_128_scales_defects(bench):
    d = bench.make_dataset("gravel", patch=128, n_train=2, n_test=6, seed=0)
    assert d["test"].shape == (6, 1, 128, 128)
    areas = d["masks"][3:].reshape(3, -1).mean(1)
    assert (areas > 0.003).all() and (areas < 0.12).all()


def test_numpy_ssim_map_matches_definition(bench):
    """The numpy SSIM used for the torch row: identical images give 1, and with a constant image
    the map is the closed form of a constant pair (the renormalized window keeps constants)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(2, 20, 17))
    np.testing.assert_allclose(bench.ssim_map_np(x, x), 1, atol=1e-9)
    a, b = np.full((1, 9, 9), 0.3), np.full((1, 9, 9), 0.6)
    c1 = 0.01 ** 2
    expected = (2 * 0.3 * 0.6 + c1) / (0.3 ** 2 + 0.6 ** 2 + c1)
    np.testing.assert_allclose(bench.ssim_map_np(a, b), expected, rtol=1e-9)
