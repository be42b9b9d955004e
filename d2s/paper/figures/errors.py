"""Figs. 8, 9 and 15: error analyses of test-set predictions (``predictions.csv`` of runs).

``predictions`` frames are long (:func:`d2s.paper.figures.sources.read_predictions`): one line per
label × seed × image with ``target``, ``prediction`` and ``category``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from d2s.method.metrics import MetricError, evaluate
from d2s.paper.figures.style import COLUMN_WIDTH, TEXT_WIDTH, color, demo_note, new_figure

N_BINS = 10
CATEGORY_ABBREV = {
    "abstract": "Abs",
    "advertisement": "Adv",
    "architecture": "Arc",
    "objects": "Obj",
    "paintings": "Pai",
    "person": "Per",
    "scenes": "Sce",
    "transport": "Tra",
}
METRIC_NAMES = {"srcc": "SRCC", "plcc": "PCC", "rmse": "RMSE", "rmae": "RMAE"}


def complexity_bin(target: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Index of the uniform bin of [0, 1] holding each score (1.0 falls in the last bin)."""
    return np.clip(np.floor(np.asarray(target, dtype=float) * n_bins), 0, n_bins - 1).astype(int)


def binned_mae(predictions: pd.DataFrame, n_bins: int = N_BINS) -> pd.DataFrame:
    """MAE per method and ground-truth complexity bin: mean ± std over seeds.

    Bins are the ten uniform intervals of the ground-truth score on [0, 1], so both methods are
    compared on the same images in each bin. Columns: label, bin, lo, hi, mae, mae_std (NaN for
    one seed), n_seeds, n_images (per seed).
    """
    frame = predictions.assign(
        bin=complexity_bin(predictions["target"], n_bins),
        abs_err=(predictions["prediction"] - predictions["target"]).abs(),
    )
    per_seed = frame.groupby(["label", "seed", "bin"], sort=False).agg(
        mae=("abs_err", "mean"), n_images=("abs_err", "size")
    )
    per_seed = per_seed.reset_index()
    out = per_seed.groupby(["label", "bin"], sort=False).agg(
        mae=("mae", "mean"),
        mae_std=("mae", lambda v: v.std(ddof=1) if len(v) > 1 else np.nan),
        n_seeds=("mae", "size"),
        n_images=("n_images", "max"),
    )
    out = out.reset_index()
    order = {label: i for i, label in enumerate(dict.fromkeys(predictions["label"]))}
    out = out.assign(_order=out["label"].map(order)).sort_values(["_order", "bin"])
    out = out.drop(columns="_order").reset_index(drop=True)
    out.insert(2, "lo", out["bin"] / n_bins)
    out.insert(3, "hi", (out["bin"] + 1) / n_bins)
    return out


def plot_binned_mae(table: pd.DataFrame, n_bins: int = N_BINS, run_label: str = ""):
    """Fig. 8 (paper): MAE across 10 uniformly spaced complexity bins, D2S vs vision-only.

    ``table``: :func:`binned_mae`. Grouped bars, one per method, ± std over seeds.
    """
    labels = list(dict.fromkeys(table["label"]))
    fig, ax = new_figure(COLUMN_WIDTH, 2.3)
    for i, label in enumerate(labels):
        part = table[table["label"] == label]
        _grouped_bars(
            ax, part["bin"].to_numpy(), part["mae"], part["mae_std"], label, i, len(labels), 1.0
        )
    ax.set_xticks(range(n_bins))
    ax.set_xticklabels([f"{b / n_bins:.1f}–{(b + 1) / n_bins:.1f}" for b in range(n_bins)])
    ax.tick_params(axis="x", labelrotation=45)
    ax.set_xlabel("Ground-truth complexity bin")
    ax.set_ylabel("MAE")
    ax.grid(axis="x", visible=False)
    ax.legend(loc="upper left")
    demo_note(fig, run_label)
    return fig


def _metrics_or_nan(pred, target) -> dict[str, float]:
    try:
        return evaluate(pred, target)
    except MetricError:
        return dict.fromkeys(METRIC_NAMES, np.nan)


def per_category(predictions: pd.DataFrame) -> pd.DataFrame:
    """SRCC / PLCC / RMSE / RMAE per method × category: mean ± std over seeds.

    Metrics are computed per seed on the test images of one category (undefined ones, e.g. a
    constant prediction, are NaN). Columns: label, category, metric, mean, std, n_seeds,
    n_images.
    """
    lines = []
    for (label, seed, category), part in predictions.groupby(
        ["label", "seed", "category"], sort=False
    ):
        values = _metrics_or_nan(part["prediction"].to_numpy(), part["target"].to_numpy())
        for metric, value in values.items():
            lines.append((label, seed, category, metric, value, len(part)))
    long = pd.DataFrame(lines, columns=["label", "seed", "category", "metric", "value", "n_images"])
    out = long.groupby(["label", "category", "metric"], sort=False).agg(
        mean=("value", "mean"),
        std=("value", lambda v: v.std(ddof=1) if v.notna().sum() > 1 else np.nan),
        n_seeds=("value", "count"),
        n_images=("n_images", "max"),
    )
    return out.reset_index()


def plot_per_category(table: pd.DataFrame, run_label: str = ""):
    """Fig. 9 (paper): per-category SRCC, PCC, RMSE, RMAE of D2S-R18, D2S-R50, vision-only.

    ``table``: :func:`per_category`. Four panels (one per metric), grouped bars per category.
    """
    labels = list(dict.fromkeys(table["label"]))
    categories = sorted(set(table["category"]))
    fig, axes = new_figure(TEXT_WIDTH, 3.6, 2, 2)
    for ax, metric in zip(axes.ravel(), METRIC_NAMES, strict=True):
        for i, label in enumerate(labels):
            part = table[(table["label"] == label) & (table["metric"] == metric)]
            part = part.set_index("category").reindex(categories)
            centers = np.arange(len(categories))
            _grouped_bars(ax, centers, part["mean"], part["std"], label, i, len(labels), 0.8)
        ax.set_xticks(range(len(categories)))
        ax.set_xticklabels([CATEGORY_ABBREV.get(c, c or "?") for c in categories])
        ax.set_title(
            METRIC_NAMES[metric]
            + (" (higher is better)" if metric in ("srcc", "plcc") else " (lower is better)")
        )
        ax.grid(axis="x", visible=False)
        values = table.loc[table["metric"] == metric, "mean"].dropna()
        if metric in ("srcc", "plcc") and len(values) and values.min() > 0:
            ax.set_ylim(max(0, values.min() - 0.1), min(1.0, values.max() + 0.05))
    axes[0, 0].legend(loc="lower left", ncol=len(labels))
    demo_note(fig, run_label)
    return fig


def scatter_data(predictions: pd.DataFrame) -> pd.DataFrame:
    """Fig. 15 data: for each method its first run (first seed given), one line per image."""
    first = predictions.groupby("label", sort=False)["run"].first()
    keep = predictions["run"] == predictions["label"].map(first)
    return predictions.loc[keep, ["label", "seed", "run", "image", "target", "prediction"]]


def plot_scatter(data: pd.DataFrame, run_label: str = ""):
    """Fig. 15 (paper): predicted vs ground-truth score with the ideal line y = x, one panel per
    method (D2S vs vision-only); each panel states its PLCC and RMSE.

    ``data``: :func:`scatter_data`.
    """
    labels = list(dict.fromkeys(data["label"]))
    fig, axes = new_figure(COLUMN_WIDTH, 1.85, 1, len(labels), squeeze=False, sharey=True)
    for i, (ax, label) in enumerate(zip(axes[0], labels, strict=True)):
        part = data[data["label"] == label]
        ax.scatter(
            part["target"], part["prediction"], s=4, alpha=0.5, lw=0, color=color(label.lower(), i)
        )
        ax.plot([0, 1], [0, 1], "--", color=color("ideal"), lw=0.8, label="ideal")
        m = _metrics_or_nan(part["prediction"].to_numpy(), part["target"].to_numpy())
        ax.set_title(label)
        ax.text(
            0.03,
            0.97,
            f"PCC {m['plcc']:.3f}\nRMSE {m['rmse']:.3f}",
            transform=ax.transAxes,
            va="top",
            fontsize=5.5,
        )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xlabel("Ground truth")
    axes[0, 0].set_ylabel("Prediction")
    demo_note(fig, run_label)
    return fig


def _grouped_bars(ax, centers, heights, stds, label: str, index: int, groups: int, cap: float):
    """Method ``index`` of ``groups`` as bars beside the others at ``centers``, ± std."""
    width = 0.8 / max(1, groups)
    ax.bar(
        np.asarray(centers) + (index - (groups - 1) / 2) * width,
        heights,
        width=width,
        yerr=stds.fillna(0),
        color=color(label.lower(), index),
        label=label,
        error_kw={"elinewidth": 0.6 if cap >= 1 else 0.5, "capsize": cap},
    )
