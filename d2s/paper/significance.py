"""Is a difference real? Each reproduced table row against the strongest baseline of its group.

For a row ``R`` and its reference ``B`` (same table, same column group, run with the same seeds and
scored on the same test images) two numbers are reported per correlation metric (SRCC, PLCC):

- **per-seed paired difference**: ``d_s = metric(R, seed s) − metric(B, seed s)`` from the runs'
  ``metrics.json``, as mean ± sample std (ddof 1) over the shared seeds;
- **paired bootstrap interval over test images**: image indices are drawn with replacement
  (``resamples`` times, from a seeded ``numpy`` generator, all draws in one call); for each draw the
  statistic is the mean over seeds of ``metric(R_s) − metric(B_s)`` on the drawn images, and the
  2.5th and 97.5th percentiles give the 95 % percentile interval (Efron & Tibshirani, *An
  Introduction to the Bootstrap*, 1993, ch. 13). Pairing (the same draw for both rows and every
  seed) removes the variation that the two rows share through the test images.

Verdict: ``better`` where the interval lies above 0, ``worse`` where it lies below 0, else ``not
distinguishable``. The reference of a group is its strongest baseline by mean SRCC (the
literature's vision-only models, e.g. ICNet, ICCORN); in a group without a baseline (ablations,
sweeps) it is the group's strongest row; a group that names its reference (a ``reference`` column,
e.g. Table 5's caption controls: the real-caption run) uses that row. The reference row itself is
marked ``reference``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

#: Metrics compared (higher is better for both).
COMPARED = ("srcc", "plcc")
#: Columns this module adds to a table's long CSV.
COLUMNS = ("vs", "diff_mean", "diff_std", "ci_low", "ci_high", "verdict")
RESAMPLES = 2000
SEED = 0
LEVEL = 0.95


def _rowwise_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``a`` with the same row of ``b``, shape ``(R,)``; NaN
    where a row is constant."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denom = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (a * b).sum(axis=1) / denom, np.nan)


def _rowwise_spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation per row (average ranks for ties, as ``scipy.stats.spearmanr``)."""
    return _rowwise_pearson(rankdata(a, axis=1), rankdata(b, axis=1))


ROWWISE: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "srcc": _rowwise_spearman,
    "plcc": _rowwise_pearson,
}


def paired_bootstrap(
    target: np.ndarray,
    pred_row: np.ndarray,
    pred_ref: np.ndarray,
    metric: str,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> tuple[float, float]:
    """95 % (``level``) percentile interval of the mean-over-seeds difference ``metric(row) −
    metric(ref)`` under a paired bootstrap over test images.

    Args:
        target: ``(N,)`` test labels.
        pred_row, pred_ref: ``(S, N)`` predictions of the two rows, seed ``s`` in row ``s`` of both
            (the same seeds in the same order), images in ``target``'s order.
        metric: ``"srcc"`` or ``"plcc"``.
        resamples: number of bootstrap draws, all drawn at once as
            ``default_rng(seed).integers(0, N, size=(resamples, N))``.
    """
    pred_row, pred_ref = np.atleast_2d(pred_row), np.atleast_2d(pred_ref)
    n = target.shape[0]
    draws = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    corr = ROWWISE[metric]
    labels = target[draws]
    diff = np.zeros(resamples)
    for row_s, ref_s in zip(pred_row, pred_ref, strict=True):
        diff += corr(row_s[draws], labels) - corr(ref_s[draws], labels)
    diff /= pred_row.shape[0]
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(diff, [tail, 100 - tail])
    return float(low), float(high)


def verdict(low: float, high: float) -> str:
    if np.isnan(low) or np.isnan(high):
        return "not computed"
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return "not distinguishable"


def _predictions(path: Path) -> pd.DataFrame:
    """A run's ``predictions.csv`` (target and prediction) indexed by image name."""
    frame = pd.read_csv(path, usecols=["image", "target", "prediction"])
    return frame.set_index("image")


def reference_rows(runs: pd.DataFrame, is_baseline: Callable[[str], bool]) -> dict[str, str]:
    """Per column group, the row every other row is compared with (see the module docstring)."""
    refs = {}
    for group, part in runs.groupby("group", sort=False):
        named = part["reference"].astype(bool) if "reference" in part else None
        if named is not None and named.any():
            refs[group] = part.loc[named, "row"].iloc[0]
            continue
        models = part.groupby("row", sort=False)["model"].first()
        strength = part.groupby("row", sort=False)["srcc"].mean()
        baselines = strength[models.map(is_baseline).to_numpy(dtype=bool)]
        refs[group] = (baselines if not baselines.empty else strength).idxmax()
    return refs


def _shared_predictions(
    row_runs: pd.DataFrame, ref_runs: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Labels and ``(S, N)`` predictions of two rows over their shared seeds and images."""
    seeds = sorted(set(row_runs["seed"]) & set(ref_runs["seed"]))
    if not seeds:
        return None
    frames = []
    for runs in (row_runs, ref_runs):
        by_seed = runs.set_index("seed")["source"]
        paths = [Path(by_seed[s]).parent / "predictions.csv" for s in seeds]
        if not all(path.is_file() for path in paths):
            return None  # a result written without predictions: per-seed differences only
        frames.append([_predictions(path) for path in paths])
    images = frames[0][0].index
    for frame in (*frames[0], *frames[1]):
        images = images.intersection(frame.index)
    target = frames[0][0].loc[images, "target"].to_numpy(dtype=float)
    stack = [
        np.stack([f.loc[images, "prediction"].to_numpy(dtype=float) for f in fs]) for fs in frames
    ]
    return target, stack[0], stack[1]


def compare(runs: pd.DataFrame, is_baseline: Callable[[str], bool], **bootstrap) -> pd.DataFrame:
    """One line per (row, group, metric in :data:`COMPARED`) with :data:`COLUMNS`.

    ``runs`` is :func:`d2s.paper.tables.collect`'s frame plus a ``model`` column; each run's
    ``predictions.csv`` is read from beside its ``metrics.json`` (``source``).
    """
    lines = []
    for group, ref in reference_rows(runs, is_baseline).items():
        part = runs[runs["group"] == group]
        ref_runs = part[part["row"] == ref]
        for row, row_runs in part.groupby("row", sort=False):
            if row == ref:
                lines += [
                    dict(row=row, group=group, metric=m, vs=ref, verdict="reference")
                    for m in COMPARED
                ]
                continue
            paired = row_runs.merge(ref_runs, on="seed", suffixes=("", "_ref"))
            shared = _shared_predictions(row_runs, ref_runs)
            for metric in COMPARED:
                d = paired[metric] - paired[f"{metric}_ref"]
                low = high = np.nan
                if shared is not None:
                    low, high = paired_bootstrap(*shared, metric=metric, **bootstrap)
                lines.append(
                    dict(
                        row=row,
                        group=group,
                        metric=metric,
                        vs=ref,
                        diff_mean=d.mean(),
                        diff_std=d.std(ddof=1) if len(d) > 1 else np.nan,
                        ci_low=low,
                        ci_high=high,
                        verdict=verdict(low, high),
                    )
                )
    return pd.DataFrame(lines, columns=["row", "group", "metric", *COLUMNS])


def render_markdown(frame: pd.DataFrame) -> list[str]:
    """Markdown lines of the significance section (empty when the table has no comparison)."""
    if "verdict" not in frame or not frame["verdict"].astype(str).str.len().any():
        return []
    header = ["row", "group", "vs"]
    for metric in COMPARED:
        header += [f"Δ{metric.upper()} per seed", f"{metric.upper()} 95% CI", "verdict"]
    lines = [
        "",
        "## Is a difference real? (each row vs its group's strongest baseline or named reference)",
        "",
        f"Per-seed paired difference (mean ± std) and a paired bootstrap {LEVEL:.0%} interval "
        f"over test images ({RESAMPLES} resamples, seed {SEED}).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    picked = frame[frame["metric"].isin(COMPARED) & (frame["verdict"].astype(str) != "")]
    for (row, group), part in picked.groupby(["row", "group"], sort=False):
        cells = [str(row), str(group), str(part["vs"].iloc[0])]
        for metric in COMPARED:
            rec = part[part["metric"] == metric].iloc[0]
            if rec["verdict"] == "reference":
                cells += ["", "", "reference"]
                continue
            diff = f"{rec['diff_mean']:+.4f}"
            if not pd.isna(rec["diff_std"]):
                diff += f" ± {rec['diff_std']:.4f}"
            interval = (
                "" if pd.isna(rec["ci_low"]) else f"[{rec['ci_low']:+.4f}, {rec['ci_high']:+.4f}]"
            )
            cells += [diff, interval, str(rec["verdict"])]
        lines.append("| " + " | ".join(cells) + " |")
    return lines
