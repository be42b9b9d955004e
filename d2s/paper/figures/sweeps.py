"""Figs. 10 and 11: EAL / FAL coefficient sweeps (``fig10.csv`` / ``fig11.csv`` of the tables)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from d2s.paper.figures.accuracy import display
from d2s.paper.figures.errors import METRIC_NAMES
from d2s.paper.figures.style import COLUMN_WIDTH, color, demo_note, new_figure


def sweep_points(table: pd.DataFrame) -> pd.DataFrame:
    """Long sweep table → one line per model × coefficient × metric, sorted by coefficient.

    ``group`` is ``eal_weight=<w>`` or ``fal_weight=<w>``. Columns: model, coefficient (the
    name), weight, metric, mean, std, n. Only reproduced rows are used.
    """
    part = table[table["status"] == "reproduced"] if "status" in table else table
    part = part.copy()
    split = part["group"].astype(str).str.partition("=")
    part["coefficient"] = split[0]
    part["weight"] = pd.to_numeric(split[2])
    part = part[part["metric"].isin(list(METRIC_NAMES))]
    out = part[["row", "coefficient", "weight", "metric", "mean", "std", "n"]].rename(
        columns={"row": "model"}
    )
    return out.sort_values(["model", "metric", "weight"], kind="stable").reset_index(drop=True)


def plot_sweep(points: pd.DataFrame, run_label: str = ""):
    """Fig. 10 (EAL coefficient, D2S-R18) / Fig. 11 (FAL coefficient, D2S-R18 and D2S-R50) of the
    paper: each metric against the coefficient, mean ± std over seeds, one line per model.

    The coefficients are drawn at evenly spaced positions labelled with their values (the grids
    span several orders of magnitude and include 0). ``points``: :func:`sweep_points`.
    """
    weights = sorted(set(points["weight"]))
    position = {w: i for i, w in enumerate(weights)}
    coefficient = points["coefficient"].iloc[0] if len(points) else "weight"
    name = {"eal_weight": "EAL coefficient λ", "fal_weight": "FAL coefficient γ"}.get(
        coefficient, coefficient
    )
    models = list(dict.fromkeys(points["model"]))
    fig, axes = new_figure(COLUMN_WIDTH, 2.9, 2, 2, sharex=True)
    for ax, metric in zip(axes.ravel(), METRIC_NAMES, strict=True):
        for i, model in enumerate(models):
            part = points[(points["model"] == model) & (points["metric"] == metric)]
            x = part["weight"].map(position).to_numpy()
            ax.errorbar(
                x,
                part["mean"],
                yerr=part["std"].fillna(0),
                marker="o",
                ms=3,
                capsize=1.5,
                elinewidth=0.6,
                color=color(model, i),
                label=display(model),
            )
            if len(part) and part["mean"].notna().any():
                best = (
                    part["mean"].idxmax() if metric in ("srcc", "plcc") else part["mean"].idxmin()
                )
                ax.plot(
                    position[part.loc[best, "weight"]],
                    part.loc[best, "mean"],
                    "*",
                    color=color(model, i),
                    ms=6,
                    zorder=4,
                )
        ax.set_title(METRIC_NAMES[metric])
        ax.set_xticks(np.arange(len(weights)))
        ax.set_xticklabels([f"{w:g}" for w in weights])
    for ax in axes[1]:
        ax.set_xlabel(name)
    axes[0, 0].legend(loc="best")
    demo_note(fig, run_label)
    return fig
