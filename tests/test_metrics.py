import math

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from d2s.method.metrics import MetricError, evaluate


def test_metrics_match_scipy_and_brute_force():
    rng = np.random.default_rng(0)
    target = rng.uniform(size=200)
    pred = np.clip(target + rng.normal(0, 0.1, size=200), 0, 1)
    pred[:10] = pred[0]  # ties in the predictions
    got = evaluate(pred, target)
    assert got["srcc"] == pytest.approx(spearmanr(pred, target).statistic, rel=1e-12)
    assert got["plcc"] == pytest.approx(pearsonr(pred, target).statistic, rel=1e-12)
    assert got["rmse"] == pytest.approx(
        math.sqrt(sum((p - t) ** 2 for p, t in zip(pred, target, strict=True)) / 200)
    )
    assert got["rmae"] == pytest.approx(
        math.sqrt(sum(abs(p - t) for p, t in zip(pred, target, strict=True)) / 200)
    )
    assert set(got) == {"srcc", "plcc", "rmse", "rmae"}


def test_rmae_is_square_root_of_mae_hand_checked():
    got = evaluate([0.0, 0.5, 1.0], [0.25, 0.5, 0.0])
    assert got["rmae"] == pytest.approx(math.sqrt((0.25 + 0 + 1) / 3))
    assert got["rmse"] == pytest.approx(math.sqrt((0.0625 + 0 + 1) / 3))


def test_metrics_accept_torch_tensors():
    import torch

    got = evaluate(torch.tensor([0.1, 0.4, 0.3]), torch.tensor([0.2, 0.5, 0.1]))
    assert got["srcc"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("pred", "target", "match"),
    [
        ([0.1, float("nan"), 0.3], [0.1, 0.2, 0.3], "predictions has 1 non-finite value"),
        ([0.1, 0.2, 0.3], [0.1, 0.2, float("inf")], "targets has 1 non-finite value.*index 2"),
        ([0.5, 0.5, 0.5], [0.1, 0.2, 0.3], "constant"),
        ([0.1, 0.2, 0.3], [0.4, 0.4, 0.4], "constant"),
        ([0.1, 0.2], [0.1, 0.2, 0.3], "2 predictions but 3 targets"),
        ([0.1], [0.2], "at least 2"),
    ],
)
def test_undefined_inputs_raise_clear_errors(pred, target, match):
    with pytest.raises(MetricError, match=match):
        evaluate(pred, target)
