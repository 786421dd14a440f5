"""aecv.metrics.roc_auc against a brute-force pair count, closed cases and scikit-learn."""

import numpy as np
import pytest

from aecv import metrics


def brute_force_auc(y, s):
    """P(score of a positive > score of a negative) + 1/2 P(tie), by counting every pair."""
    pos, neg = s[y == 1], s[y == 0]
    diff = pos[:, None] - neg[None, :]
    return ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / (len(pos) * len(neg))


@pytest.mark.parametrize("n, levels, seed", [(50, 3, 0), (200, 10, 1), (1000, 50, 2),
                                             (999, 1000000, 3), (7, 2, 4)])
def test_matches_pair_count_with_ties(n, levels, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]  # both classes present
    s = rng.integers(0, levels, n).astype(np.float32)  # few levels: many ties
    assert metrics.roc_auc(y, s) == pytest.approx(brute_force_auc(y, s), abs=1e-12)


def test_closed_cases():
    assert metrics.roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert metrics.roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == 0.0
    assert metrics.roc_auc([0, 1, 0, 1], [5, 5, 5, 5]) == 0.5
    # One tie between a positive and a negative out of 4 pairs: (3 + 0.5) / 4.
    assert metrics.roc_auc([0, 0, 1, 1], [1, 2, 2, 3]) == 0.875


def test_label_forms_agree():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    s = rng.normal(size=300) + y
    want = metrics.roc_auc(y, s)
    assert metrics.roc_auc(y.astype(bool), s) == want
    assert metrics.roc_auc(np.where(y == 1, 1, -1), s) == want  # larger label is positive
    assert metrics.roc_auc(y.astype(np.float64), list(s)) == want
    # Invariant to any strictly increasing transform of the scores.
    assert metrics.roc_auc(y, np.exp(s)) == pytest.approx(want, abs=1e-12)


def test_errors():
    with pytest.raises(ValueError, match="only one class"):
        metrics.roc_auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="binary"):
        metrics.roc_auc([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="3 labels but scores has 2"):
        metrics.roc_auc([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="NaN"):
        metrics.roc_auc([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError, match="1-D"):
        metrics.roc_auc([[0, 1]], [[0.1, 0.2]])
    with pytest.raises(TypeError, match="y_true"):
        metrics.roc_auc(["a", "b"], [0.1, 0.2])


def test_against_scikit_learn():
    try:
        from sklearn.metrics import roc_auc_score
    except ImportError:
        pytest.skip("SKIPPED LOUDLY: scikit-learn is not installed, so roc_auc is not compared "
                    "with sklearn.metrics.roc_auc_score (the pair-count tests still ran)")
    rng = np.random.default_rng(6)
    for n in (10, 100, 5000):
        y = rng.integers(0, 2, n)
        y[:2] = [0, 1]
        s = np.round(rng.normal(size=n), 1)
        assert metrics.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_against_scipy_mann_whitney():
    """AUC = U / (n_pos n_neg) with scipy's U statistic (when scipy is there)."""
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 500)
    s = rng.integers(0, 20, 500).astype(float)
    u = stats.mannwhitneyu(s[y == 1], s[y == 0]).statistic
    assert metrics.roc_auc(y, s) == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()), abs=1e-12)
