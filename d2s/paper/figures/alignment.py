"""Figs. 4(d)/14 (entropy KDEs) and 4(e)/12/13 (t-SNE): visual vs text features before and after
alignment.

**Where the features come from** (:func:`compute_features`). The alignment acts on the
*projected* visual feature (``D2S.proj`` of the pooled 1024-d feature, 512-d), the one the FAL
(InfoNCE) pairs with the caption's text feature and whose entropy (Eq. 12) EAL matches to the
text entropy. ``best.pt`` is the inference model and drops the projection, so for a finished
training run:

- *after alignment*: the training model rebuilt from the run's resume state ``last.pt`` (the
  ``model.*`` keys of the training Task, projection included) — the weights at the run's last
  epoch (recorded as ``after_epoch``; under ``select: test-plcc`` best.pt may be an earlier epoch);
- *before alignment*: the same architecture at the run's initialisation, rebuilt exactly as the
  engine does (``torch.manual_seed(seed)`` then ``build(model, pretrained, proj_dim=512)``, the
  first random draws of the run). With ``pretrained: true`` this is the ImageNet backbone with
  the seed's random pool, head and projection; with ``pretrained: false`` all random;
- *text*: the caption features and entropies the run trained with (its ``text_features`` file, or
  its captions through the text-feature cache). The text encoder is frozen, so the text side is
  the same before and after; only the visual side moves.

All on the run's test images with the evaluation transform. The result is saved as ``.npz``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from d2s.paper.figures.sources import FigureError, batched, load_images, run_config, split_items
from d2s.paper.figures.style import COLUMN_WIDTH, color, demo_note, new_figure

FEATURE_KEYS = (
    "names",
    "labels",
    "visual_before",
    "visual_after",
    "text",
    "entropy_visual_before",
    "entropy_visual_after",
    "entropy_text",
)


def initial_model(config):
    """The D2S training model (with projection) exactly as the engine initialises the run."""
    import torch

    from d2s.registry import build

    torch.manual_seed(config.seed)
    return build(
        config.model,
        pretrained=config.pretrained,
        pretrained_file=config.pretrained_file,
        proj_dim=512,
    )


def trained_model(folder: str | Path, config):
    """The D2S training model (with projection) of the run's last epoch, from ``last.pt``."""
    from d2s.checkpoint import load_weights, read_checkpoint
    from d2s.registry import build

    path = Path(folder) / "last.pt"
    state = read_checkpoint(path, kind="state")
    weights = {k[len("model.") :]: v for k, v in state["task"].items() if k.startswith("model.")}
    if "proj.weight" not in weights:
        raise FigureError(
            f"{path}: the run has no vision→text projection (trained without EAL/FAL)"
        )
    model = build(config.model, pretrained=False, proj_dim=512)
    load_weights(model, weights, str(path))
    return model, int(state["epoch"])


def compute_features(
    folder: str | Path, root: str | None = None, batch_size: int = 64
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Projected visual features and entropies before/after alignment, with the paired text
    features, on the run's test images. Returns ``(arrays, meta)`` (see the module docstring)."""
    from d2s.method.losses import entropy
    from d2s.registry import model_spec
    from d2s.train.data import Split, attach_text, read_captions

    folder = Path(folder)
    config = run_config(folder)
    if not model_spec(config.model).aligns_with_text:
        raise FigureError(f"{folder}: a {config.model} run; the alignment figures need a D2S run")
    after, epoch = trained_model(folder, config)
    try:
        before = initial_model(config)
    except Exception as err:  # e.g. pretrained weights not reachable offline
        raise FigureError(
            f"{folder}: cannot rebuild the initial model ({type(err).__name__}: {err})"
        ) from err
    items = split_items(config, root)
    images = load_images(items, config.image_size)
    arrays: dict[str, np.ndarray] = {
        "names": np.array([item.name for item in items]),
        "labels": np.array([item.label for item in items], dtype=np.float64),
    }
    for stage, model in (("before", before), ("after", after)):
        model.eval()
        projected = batched(lambda x, m=model: m.forward_train(x)[1], images, batch_size)
        arrays[f"visual_{stage}"] = projected.numpy().astype(np.float32)
        arrays[f"entropy_visual_{stage}"] = entropy(projected.float()).numpy().astype(np.float64)
    use_captions = config.captions and not config.text_features
    split = Split("test", list(items))
    attach_text(split, read_captions(config.captions) if use_captions else None, config)
    arrays["text"] = split.text_features.numpy().astype(np.float32)
    arrays["entropy_text"] = split.text_entropy.numpy().astype(np.float64)
    meta = {
        "run": str(folder),
        "model": config.model,
        "seed": config.seed,
        "eal_mode": config.eal_mode,
        "pretrained": config.pretrained,
        "after_epoch": epoch,
        "text_source": config.text_features or config.captions,
        "n_images": len(items),
        "before": "torch.manual_seed(seed); build(model, pretrained, proj_dim=512)",
        "after": "last.pt model.* weights (final epoch)",
    }
    return arrays, meta


def save_features(arrays: dict[str, np.ndarray], meta: dict[str, Any], out: str | Path) -> None:
    from d2s.core.io import atomic_path

    with atomic_path(out) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, meta=np.array(json.dumps(meta)), **arrays)


def load_features(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise FigureError(f"{path}: figure features missing")
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in FEATURE_KEYS if k not in data]
        if missing:
            raise FigureError(f"{path}: lacks {missing}")
        arrays = {k: data[k] for k in FEATURE_KEYS}
        meta = json.loads(str(data["meta"])) if "meta" in data else {}
    return arrays, meta


# entropy (Figs. 4(d), 14) -------------------------------------------------------------------------


def entropy_frame(arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    """One line per image × series: visual before / after, text (frozen: one series)."""
    names = arrays["names"]
    parts = []
    for series, key in (
        ("visual, before", "entropy_visual_before"),
        ("visual, after", "entropy_visual_after"),
        ("text", "entropy_text"),
    ):
        parts.append(pd.DataFrame({"series": series, "image": names, "entropy": arrays[key]}))
    return pd.concat(parts, ignore_index=True)


def kde_curves(frame: pd.DataFrame, points: int = 256) -> pd.DataFrame:
    """Gaussian KDE (``scipy.stats.gaussian_kde``, Scott's bandwidth) of each series on one grid
    spanning all values ± 10 % of their range; each curve scaled to a peak of 1 so that a narrow
    and a wide distribution are both readable. A series without spread is NaN (drawn as a line).
    Columns: series, entropy, density (scaled)."""
    from scipy.stats import gaussian_kde

    values = frame["entropy"].to_numpy(dtype=np.float64)
    lo, hi = values.min(), values.max()
    pad = 0.1 * (hi - lo) if hi > lo else 0.05
    grid = np.linspace(lo - pad, hi + pad, points)
    parts = []
    for series, part in frame.groupby("series", sort=False):
        v = part["entropy"].to_numpy(dtype=np.float64)
        if len(v) < 2 or np.ptp(v) <= 1e-12 * max(1.0, abs(v.mean())):
            density = np.full_like(grid, np.nan)
        else:
            density = gaussian_kde(v)(grid)
            density = density / density.max()
        parts.append(pd.DataFrame({"series": series, "entropy": grid, "density": density}))
    return pd.concat(parts, ignore_index=True)


def entropy_shifts(frame: pd.DataFrame) -> dict[str, float]:
    """How far training moved the visual entropies: means before / after / of the text, and
    the mean per-image |after − before| (nats)."""
    by_series = {s: part.set_index("image")["entropy"] for s, part in frame.groupby("series")}
    before, after = by_series["visual, before"], by_series["visual, after"]
    return {
        "visual_before_mean": float(before.mean()),
        "visual_after_mean": float(after.mean()),
        "text_mean": float(by_series["text"].mean()),
        "mean_abs_change": float((after - before.reindex(after.index)).abs().mean()),
    }


def _draw_entropy(ax, frame: pd.DataFrame, variant: str) -> None:
    curves = kde_curves(frame)
    before_style = ":" if variant == "fig4d" else "--"
    specs = (
        ("visual, before", color("visual"), before_style, False),
        ("visual, after", color("visual"), "-", variant == "fig14"),
        ("text", color("text"), "-", variant == "fig14"),
    )
    for series, c, ls, fill in specs:
        curve = curves[curves["series"] == series]
        label = {"text": "text (frozen encoder)"}.get(series, series)
        if curve["density"].isna().all():  # no spread: mark the value
            values = frame.loc[frame["series"] == series, "entropy"]
            ax.axvline(values.mean(), color=c, ls=ls, lw=1.0, label=label + " (constant)")
            continue
        ax.plot(curve["entropy"], curve["density"], color=c, ls=ls, lw=1.0, label=label)
        if fill:
            ax.fill_between(curve["entropy"], curve["density"], color=c, alpha=0.2, lw=0)
    ax.set_xlabel("Feature entropy H (nats)")
    ax.set_ylim(0, 1.25)


def plot_entropy(frame: pd.DataFrame, variant: str = "fig4d", run_label: str = ""):
    """Fig. 4(d) / Fig. 14 (paper): KDEs of the entropy (Eq. 12) of the projected visual feature
    before (dotted in 4(d), dashed without fill in 14) and after alignment (solid, filled in 14),
    and of the caption's text feature (frozen encoder: the same before and after).

    ``frame``: :func:`entropy_frame`, optionally with a ``panel`` column (one panel per value, in
    order: e.g. one run per ``eal_mode``). Each KDE is scaled to a peak of 1 (:func:`kde_curves`).
    """
    panels = list(dict.fromkeys(frame["panel"])) if "panel" in frame else [None]
    fig, axes = new_figure(COLUMN_WIDTH * len(panels), 2.2, ncols=len(panels), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        _draw_entropy(ax, frame if panel is None else frame[frame["panel"] == panel], variant)
        if panel is not None:
            ax.set_title(panel, fontsize="small")
    axes[0][0].set_ylabel("Density (KDE, peak = 1)")
    axes[0][0].legend(loc="upper center", ncol=1)
    demo_note(fig, run_label)
    return fig


# t-SNE (Figs. 4(e), 12, 13) -----------------------------------------------------------------------


def tsne_embedding(visual: np.ndarray, text: np.ndarray, seed: int = 0) -> np.ndarray:
    """Joint 2-D t-SNE (scikit-learn) of L2-normalised visual and text features (the space
    FAL's InfoNCE compares them in): rows ``0..N-1`` visual, ``N..2N-1`` text."""
    from sklearn.manifold import TSNE

    joint = np.concatenate([visual, text]).astype(np.float64)
    joint /= np.maximum(np.linalg.norm(joint, axis=1, keepdims=True), 1e-12)
    perplexity = float(min(30.0, max(2.0, (len(joint) - 1) / 3)))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    return tsne.fit_transform(joint)


def tsne_frame(arrays: dict[str, np.ndarray], stages=("before", "after"), seed: int = 0):
    """One line per image × modality × stage: t-SNE coordinates ``x``, ``y`` (each stage its own
    embedding of visual + text features)."""
    names = arrays["names"]
    n = len(names)
    parts = []
    for stage in stages:
        emb = tsne_embedding(arrays[f"visual_{stage}"], arrays["text"], seed)
        for modality, rows in (("visual", slice(0, n)), ("text", slice(n, 2 * n))):
            parts.append(
                pd.DataFrame(
                    {
                        "stage": stage,
                        "modality": modality,
                        "image": names,
                        "x": emb[rows, 0],
                        "y": emb[rows, 1],
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def plot_tsne(frame: pd.DataFrame, run_label: str = ""):
    """Fig. 4(e) (both stages, before on top), Fig. 12 (before) or Fig. 13 (after) of the paper:
    t-SNE of visual and text features, coloured by modality.

    ``frame``: :func:`tsne_frame` with one or two stages.
    """
    stages = list(dict.fromkeys(frame["stage"]))
    fig, axes = new_figure(COLUMN_WIDTH, 2.4 * len(stages), len(stages), 1, squeeze=False)
    for ax, stage in zip(axes[:, 0], stages, strict=True):
        part = frame[frame["stage"] == stage]
        for modality in ("visual", "text"):
            sub = part[part["modality"] == modality]
            ax.scatter(
                sub["x"], sub["y"], s=5, lw=0, alpha=0.7, color=color(modality), label=modality
            )
        ax.set_title(f"{stage} alignment")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        ax.set_xlabel("t-SNE 1")
        ax.set_ylabel("t-SNE 2")
        ax.legend(loc="best", markerscale=2)
    demo_note(fig, run_label)
    return fig
