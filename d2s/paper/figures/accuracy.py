"""Figs. 2 and 3: accuracy and efficiency of the methods of Table 1 (from ``table1.csv``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from d2s.paper.figures.style import COLUMN_WIDTH, color, demo_note, new_figure, place_labels
from d2s.paper.models import TABLE1_ROWS

#: Model name → its Table 1 row label.
DISPLAY = TABLE1_ROWS


def display(name: str) -> str:
    return DISPLAY.get(name, name)


def method_points(table1: pd.DataFrame, metrics: tuple[str, ...]) -> pd.DataFrame:
    """One line per method (row of Table 1): ``{metric}``, ``{metric}_std`` and ``source``.

    Reproduced rows (``status == reproduced``) give the suite's mean ± std over seeds; rows the
    suite does not reproduce (``cited``) give the paper's value (``source = cited``). A metric a
    row lacks is NaN.
    """
    lines = []
    for row, part in table1.groupby("row", sort=False):
        part = part[part["group"].astype(str) == ""]
        if part.empty:
            continue
        reproduced = (part["status"] == "reproduced").any()
        rec = {"method": row, "source": "reproduced" if reproduced else "cited"}
        for metric in metrics:
            hit = part[part["metric"] == metric]
            if hit.empty:
                rec[metric], rec[f"{metric}_std"] = np.nan, np.nan
                continue
            h = hit.iloc[0]
            if reproduced:
                rec[metric], rec[f"{metric}_std"] = h["mean"], h["std"]
            else:
                rec[metric], rec[f"{metric}_std"] = h["paper"], h["paper_std"]
        lines.append(rec)
    return pd.DataFrame(lines)


def plot_accuracy(points: pd.DataFrame, run_label: str = ""):
    """Fig. 2 (paper): SRCC (x) vs PLCC (y) of every method; upper right is better.

    ``points``: :func:`method_points` with ``srcc``/``plcc``. Reproduced methods are filled
    markers with ± std error bars; cited (literature) methods are hollow grey markers.
    Returns ``(fig, plotted)``: the rows drawn.
    """
    plotted = points.dropna(subset=["srcc", "plcc"]).reset_index(drop=True)
    fig, ax = new_figure(COLUMN_WIDTH, 2.7)
    labels = []
    for i, rec in plotted.iterrows():
        name = display(rec["method"])
        if rec["source"] == "reproduced":
            c = color(rec["method"], i)
            ax.errorbar(
                rec["srcc"],
                rec["plcc"],
                xerr=np.nan_to_num(rec["srcc_std"]),
                yerr=np.nan_to_num(rec["plcc_std"]),
                fmt="o",
                color=c,
                ms=4.5,
                capsize=1.5,
                elinewidth=0.7,
                zorder=3,
            )
            weight = "bold"
        else:
            c = color("cited")
            ax.plot(rec["srcc"], rec["plcc"], "o", mfc="none", mec=c, ms=4, zorder=2)
            weight = "normal"
        labels.append(
            ax.text(rec["srcc"], rec["plcc"], name, fontsize=5.5, color=c, fontweight=weight)
        )
    ax.plot([], [], "o", color=color("d2s-r18"), label="reproduced (mean ± std)")
    ax.plot([], [], "o", mfc="none", mec=color("cited"), label="cited from the paper")
    ax.set_xlabel("SRCC")
    ax.set_ylabel("PLCC")
    ax.legend(loc="lower right")
    ax.margins(0.12)
    place_labels(ax, labels)
    demo_note(fig, run_label)
    return fig, plotted


def plot_efficiency(points: pd.DataFrame, run_label: str = ""):
    """Fig. 3 (paper): latency (x) vs parameters (y), bubble area ∝ SRCC; lower left is better.

    ``points``: :func:`method_points` with ``params_m``, ``latency_ms``, ``srcc``. When no
    reproduced method has a measured latency (e.g. the demo, where the latency benchmark is
    off), the figure falls back to parameters (x) vs SRCC (y) and says so on the figure.
    Returns ``(fig, plotted, mode)`` with ``mode`` ``latency`` or ``params-only``.
    """
    reproduced = points[points["source"] == "reproduced"]
    has_latency = reproduced["latency_ms"].notna().any() if len(reproduced) else False
    mode = "latency" if has_latency else "params-only"
    fig, ax = new_figure(COLUMN_WIDTH, 2.7)
    labels = []
    if mode == "latency":
        plotted = points.dropna(subset=["latency_ms", "params_m", "srcc"]).reset_index(drop=True)
        acc = plotted["srcc"].to_numpy()
        span = np.ptp(acc) if len(acc) > 1 and np.ptp(acc) > 0 else 1.0
        sizes = 40 + 360 * (acc - acc.min()) / span
        plotted = plotted.assign(bubble_size=sizes)
        x, y, xlabel, ylabel = "latency_ms", "params_m", "Latency (ms / image)", "Params (M)"
    else:
        plotted = points.dropna(subset=["params_m", "srcc"]).reset_index(drop=True)
        plotted = plotted.assign(bubble_size=40.0)
        x, y, xlabel, ylabel = "params_m", "srcc", "Params (M)", "SRCC"
    for i, rec in plotted.iterrows():
        cited = rec["source"] == "cited"
        c = color("cited") if cited else color(rec["method"], i)
        ax.scatter(
            rec[x],
            rec[y],
            s=rec["bubble_size"],
            facecolors="none" if cited else c,
            edgecolors=c,
            alpha=0.9 if cited else 0.6,
            linewidths=0.8,
            zorder=3,
        )
        labels.append(ax.text(rec[x], rec[y], display(rec["method"]), fontsize=5.5, color=c))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.margins(0.15)
    place_labels(ax, labels)
    if mode == "params-only":
        ax.set_title("Latency not measured (no latency_ms): params vs SRCC")
    else:
        ax.set_title("Bubble area ∝ SRCC; filled: reproduced, hollow: cited")
    demo_note(fig, run_label)
    return fig, plotted, mode
