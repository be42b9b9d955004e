"""Evaluation metrics on the [0, 1] label scale, raw predictions (no logistic fitting).

SRCC (Spearman), PLCC (Pearson), RMSE and RMAE = sqrt(mean |ŷ − y|) — the square root of the MAE,
as computed by the IC9600 (Feng et al., 2022) and D2S code.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


class MetricError(ValueError):
    """Inputs for which a metric is undefined (NaN, constant, mismatched or too short)."""


def _as_vector(x, name: str) -> np.ndarray:
    arr = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float64).reshape(-1)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise MetricError(
            f"{name} has {int(bad.sum())} non-finite value(s), first at index {int(np.argmax(bad))}"
        )
    return arr


def _pearson(a: np.ndarray, b: np.ndarray, what: str) -> float:
    a, b = a - a.mean(), b - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    if denom == 0:
        raise MetricError(f"{what} is undefined: predictions or targets are constant")
    return float((a * b).sum() / denom)


def evaluate(pred, target) -> dict[str, float]:
    """``{"srcc", "plcc", "rmse", "rmae"}`` of predictions against targets (1-D, same length)."""
    p, t = _as_vector(pred, "predictions"), _as_vector(target, "targets")
    if p.shape != t.shape:
        raise MetricError(f"{p.size} predictions but {t.size} targets")
    if p.size < 2:
        raise MetricError(f"need at least 2 items to correlate, got {p.size}")
    err = p - t
    return {
        "srcc": _pearson(rankdata(p), rankdata(t), "SRCC"),
        "plcc": _pearson(p, t, "PLCC"),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "rmae": float(np.sqrt(np.mean(np.abs(err)))),
    }
