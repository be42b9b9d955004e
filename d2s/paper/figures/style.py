"""One figure style for the whole suite, and the writer every figure goes through.

Figures are sized for a paper column (:data:`COLUMN_WIDTH` inches, 300 dpi) or the full text
width (:data:`TEXT_WIDTH`), drawn with the same fonts, palette and line weights, and saved by
:func:`save_figure` as a PNG (300 dpi) and a vector PDF, atomically, beside a sidecar CSV holding
the exact data plotted and a JSON record of what produced it (sources, runs, config). The figure
size is never changed at save time (no tight bounding box), so a PNG is exactly
``width × 300`` by ``height × 300`` pixels.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from d2s.core.io import atomic_path, atomic_write_text  # noqa: E402

COLUMN_WIDTH = 3.3  # inches: one column of the paper
TEXT_WIDTH = 6.9  # inches: the full text width
DPI = 300

#: Fixed colours per role, so a method has the same colour in every figure.
PALETTE = {
    "d2s-r18": "#1f5fa8",
    "d2s-r50": "#6a3d9a",
    "vision-only": "#d95f02",
    "icnet": "#1b9e77",
    "iccorn": "#e7298a",
    "visual": "#1f5fa8",
    "text": "#d95f02",
    "cited": "#7f7f7f",
    "ideal": "#444444",
}
CYCLE = ["#1f5fa8", "#d95f02", "#1b9e77", "#6a3d9a", "#e7298a", "#66a61e", "#a6761d", "#e6ab02"]

RC = {
    "figure.dpi": 100,
    "savefig.dpi": DPI,
    "font.family": "DejaVu Sans",
    "font.size": 7,
    "axes.titlesize": 7.5,
    "axes.labelsize": 7,
    "xtick.labelsize": 6,
    "ytick.labelsize": 6,
    "legend.fontsize": 6,
    "legend.frameon": False,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.35,
    "lines.linewidth": 1.1,
    "lines.markersize": 4,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "axes.prop_cycle": matplotlib.cycler(color=CYCLE),
    "pdf.fonttype": 42,  # TrueType in the PDF: editable, no Type 3 fonts
    "figure.constrained_layout.use": True,
}


def color(name: str, index: int = 0) -> str:
    """The fixed colour of a method or modality (lower-cased), else the cycle's ``index``-th."""
    return PALETTE.get(str(name).lower(), CYCLE[index % len(CYCLE)])


@contextmanager
def style() -> Iterator[None]:
    """Apply the suite's matplotlib style inside a ``with`` block."""
    with plt.rc_context(RC):
        yield


def new_figure(
    width: float = COLUMN_WIDTH, height: float = 2.4, nrows: int = 1, ncols: int = 1, **kw
):
    """``(fig, axes)`` in the suite's style, ``width × height`` inches.

    The style is applied to matplotlib's global settings (artists read them when created, so a
    figure drawn over several calls keeps one look); figure rendering runs in its own process.
    """
    plt.rcParams.update(RC)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), **kw)
    return fig, axes


def place_labels(ax, texts: list) -> None:
    """Move point labels apart so that no two overlap (adjustText: repels labels from each other
    and from their points, drawing a thin leader line where a label moved away)."""
    if len(texts) < 2:
        return
    from adjustText import adjust_text

    # adjustText pushes labels apart along the line between them, which is undefined for labels
    # that start on the same spot (a demo run on top of a cited method): stagger those first.
    seen: dict[tuple[int, int], int] = {}
    to_data = ax.transData.inverted()
    for text in texts:
        x, y = ax.transData.transform(text.get_position())
        key = (round(x / 3), round(y / 3))
        k = seen.get(key, 0)
        seen[key] = k + 1
        if k:
            step = text.get_fontsize() * 1.4 * ax.figure.dpi / 72  # one line, in pixels
            text.set_position(to_data.transform((x, y - k * step)))
    adjust_text(
        texts,
        ax=ax,
        expand=(1.2, 1.5),
        force_text=(0.3, 0.6),
        iter_lim=2000,
        arrowprops={"arrowstyle": "-", "color": "#888888", "lw": 0.4},
    )


def demo_note(fig, run_label: str) -> None:
    """Label figures drawn from demo runs, which are not comparable with the paper."""
    if run_label == "demo":
        fig.text(
            0.005,
            0.005,
            "DEMO data: not the paper's numbers",
            ha="left",
            va="bottom",
            fontsize=4.5,
            color="#b00000",
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def save_figure(
    fig,
    out: str | Path,
    data: pd.DataFrame,
    meta: dict[str, Any],
    arrays: dict[str, np.ndarray] | None = None,
) -> dict[str, str]:
    """Write ``{out}.png`` (300 dpi), ``{out}.pdf``, ``{out}.csv`` (the data plotted),
    ``{out}.json`` (``meta`` plus the file names) and, with ``arrays``, ``{out}.npz``.

    ``out`` is a path without suffix. Every file is written atomically; the JSON comes last, so
    its presence means the figure is complete. Returns the paths written.
    """
    out = Path(out)
    paths = {ext: str(out.with_name(out.name + "." + ext)) for ext in ("png", "pdf", "csv", "json")}
    with style():
        with atomic_path(paths["png"]) as tmp:
            fig.savefig(tmp, format="png", dpi=DPI)
        with atomic_path(paths["pdf"]) as tmp:
            fig.savefig(tmp, format="pdf")
    plt.close(fig)
    atomic_write_text(data.to_csv(index=False), paths["csv"])
    if arrays:
        paths["npz"] = str(out.with_name(out.name + ".npz"))
        with atomic_path(paths["npz"]) as tmp:
            with open(tmp, "wb") as handle:
                np.savez_compressed(handle, **arrays)
    record = {**meta, "files": {k: Path(v).name for k, v in paths.items()}}
    atomic_write_text(json.dumps(_jsonable(record), indent=2) + "\n", paths["json"])
    return paths
