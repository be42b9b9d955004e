"""Figs. 17–18: one image–caption pair per ground-truth score decile, from the caption cache."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from d2s.paper.figures.style import TEXT_WIDTH, new_figure
from d2s.text.prompts import BLIP_JOIN, BLIP_PROMPTS

N_DECILES = 10
PROMPT_COLOR = "#1a8a2e"


def decile_examples(labels: dict[str, float], captions: dict[str, str]) -> pd.DataFrame:
    """One example per score range ``[d/10, (d+1)/10)`` (the last one closed): among the
    captioned images whose label falls in the range, the one nearest its midpoint (ties: first
    name). Columns: decile, lo, hi, image, score, caption (image empty if the range has none)."""
    names = sorted(n for n in labels if n in captions)
    scores = np.array([labels[n] for n in names], dtype=np.float64)
    bins = np.clip(np.floor(scores * N_DECILES), 0, N_DECILES - 1).astype(int)
    rows = []
    for d in range(N_DECILES):
        lo, hi = d / N_DECILES, (d + 1) / N_DECILES
        members = np.flatnonzero(bins == d)
        if len(members) == 0:
            rows.append(
                {"decile": d, "lo": lo, "hi": hi, "image": "", "score": np.nan, "caption": ""}
            )
            continue
        mid = (lo + hi) / 2
        best = members[np.argmin(np.abs(scores[members] - mid))]  # argmin: first of ties
        rows.append(
            {
                "decile": d,
                "lo": lo,
                "hi": hi,
                "image": names[best],
                "score": float(scores[best]),
                "caption": captions[names[best]],
            }
        )
    return pd.DataFrame(rows)


def caption_lines(caption: str, width: int = 80) -> list[list[tuple[str, str]]]:
    """The caption as wrapped lines of ``(text, colour)`` segments: a BLIP prompt prefix that
    starts a sentence is green (as in the paper), the generated text black."""
    lines: list[list[tuple[str, str]]] = []
    for part in caption.split(BLIP_JOIN):
        prompt = next((p for p in BLIP_PROMPTS if part.lower().startswith(p)), "")
        wrapped = textwrap.wrap(part, width) or [""]
        for i, line in enumerate(wrapped):
            if i == 0 and prompt and line.lower().startswith(prompt):
                lines.append([(line[: len(prompt)], PROMPT_COLOR), (line[len(prompt) :], "black")])
            else:
                lines.append([(line, "black")])
    return lines


def plot_caption_examples(
    examples: pd.DataFrame, pictures: dict[str, np.ndarray], title: str = "", run_label: str = ""
):
    """Figs. 17 (part 1) / 18 (part 2) of the paper: per score range one image and its caption,
    prompt text in green.

    ``examples``: rows of :func:`decile_examples`; ``pictures``: image name → RGB array.
    """
    from matplotlib.offsetbox import AnchoredOffsetbox, HPacker, TextArea, VPacker

    n = len(examples)
    fig, axes = new_figure(
        TEXT_WIDTH, 1.15 * n + 0.2, n, 2, squeeze=False, gridspec_kw={"width_ratios": [1, 4.6]}
    )
    for i, rec in enumerate(examples.itertuples(index=False)):
        ax_img, ax_txt = axes[i]
        for ax in (ax_img, ax_txt):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        ax_txt.axis("off")
        head = f"[{rec.lo:.1f}, {rec.hi:.1f}{']' if rec.decile == N_DECILES - 1 else ')'}"
        if not rec.image:
            ax_img.axis("off")
            ax_txt.text(0, 0.5, f"{head}: no image in this range", va="center", fontsize=6)
            continue
        ax_img.imshow(pictures[rec.image])
        ax_img.set_xlabel(f"{head}  score {rec.score:.3f}", fontsize=5.5)
        rows = []
        for line in caption_lines(rec.caption):
            parts = [TextArea(text, textprops={"color": c, "fontsize": 5.8}) for text, c in line]
            rows.append(HPacker(children=parts, pad=0, sep=0))
        rows.insert(0, TextArea(rec.image, textprops={"fontsize": 5, "color": "#555555"}))
        box = AnchoredOffsetbox(
            loc="center left",
            child=VPacker(children=rows, pad=0, sep=1.2),
            frameon=False,
            bbox_to_anchor=(0, 0.5),
            bbox_transform=ax_txt.transAxes,
            borderpad=0,
        )
        ax_txt.add_artist(box)
    if run_label == "demo":
        title = f"{title} (DEMO data, not the paper's)".strip()
    if title:
        fig.suptitle(title, fontsize=7)
    return fig
