"""Figs. 6, 7 and 16: what a trained D2S responds to (predictions, channels, activation maps).

- Fig. 6: predictions vs low-level image statistics of the test images (:func:`low_level_stats`);
- Fig. 7: which stage-4 channels correlate most with the complexity label
  (:func:`channel_frequencies`);
- Fig. 16: channel-max, channel-mean and Grad-CAM maps of stage 4 (:func:`activation_maps`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import pearsonr, spearmanr

from d2s.paper.figures.style import COLUMN_WIDTH, TEXT_WIDTH, color, demo_note, new_figure

MAX_SIDE = 512  # low-level statistics are computed on images downscaled to this longer side

# Fig. 6 -------------------------------------------------------------------------------------------


def gray_array(path, max_side: int = MAX_SIDE) -> np.ndarray:
    """The image as grayscale floats in [0, 1] (PIL ``L``), downscaled to ``max_side`` if larger."""
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("L")
        if max(image.size) > max_side:
            scale = max_side / max(image.size)
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.float64) / 255.0


def image_statistics(gray: np.ndarray) -> dict[str, float]:
    """Brightness = mean intensity; contrast = RMS contrast (std of intensity); texture variance
    = variance of the 4-neighbour Laplacian response on interior pixels (a standard texture /
    sharpness measure). Intensities in [0, 1]."""
    lap = gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:] - 4 * gray[1:-1, 1:-1]
    return {
        "texture_variance": float(lap.var()) if lap.size else 0.0,
        "brightness": float(gray.mean()),
        "contrast": float(gray.std()),
    }


def low_level_stats(predictions: pd.DataFrame, paths: dict[str, str]) -> pd.DataFrame:
    """Fig. 6 data: ``predictions`` (image, target, prediction) joined with the statistics of
    each image (``paths``: image name → file)."""
    rows = []
    for rec in predictions.itertuples(index=False):
        stats = image_statistics(gray_array(paths[rec.image]))
        rows.append(
            {"image": rec.image, "target": rec.target, "prediction": rec.prediction, **stats}
        )
    return pd.DataFrame(rows)


STAT_NAMES = {
    "texture_variance": "Texture variance",
    "brightness": "Brightness",
    "contrast": "Contrast",
}


def _corr(x, y) -> tuple[float, float]:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    return float(pearsonr(x, y)[0]), float(spearmanr(x, y)[0])


def plot_low_level(frame: pd.DataFrame, label: str = "D2S", run_label: str = ""):
    """Fig. 6 (paper): the D2S predicted score against texture variance, brightness and contrast
    of each test image; each panel gives the Pearson and Spearman correlation.

    ``frame``: :func:`low_level_stats`.
    """
    fig, axes = new_figure(TEXT_WIDTH, 2.1, 1, 3, sharey=True)
    for ax, (stat, name) in zip(axes, STAT_NAMES.items(), strict=True):
        x, y = frame[stat].to_numpy(), frame["prediction"].to_numpy()
        ax.scatter(x, y, s=5, lw=0, alpha=0.55, color=color("d2s-r18"))
        r, rho = _corr(x, y)
        ax.set_title(f"{name}: r = {r:.2f}, ρ = {rho:.2f}")
        ax.set_xlabel(name)
    axes[0].set_ylabel(f"{label} predicted score")
    demo_note(fig, run_label)
    return fig


# Fig. 7 -------------------------------------------------------------------------------------------


def channel_activations(model, images, batch_size: int = 64) -> np.ndarray:
    """Stage-4 channel activations, spatially averaged: ``(N, C)``."""
    from d2s.paper.figures.sources import batched

    model.eval()
    return batched(lambda x: model.forward_features(x).mean(dim=(2, 3)), images, batch_size).numpy()


def channel_correlations(acts: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Pearson r of each channel's activation with the label over images (0 for a constant
    channel)."""
    a = acts - acts.mean(axis=0)
    t = labels - labels.mean()
    denom = np.sqrt((a * a).sum(axis=0) * (t * t).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * t[:, None]).sum(axis=0) / denom
    return np.nan_to_num(r, nan=0.0)


def top_channels(r: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest ``|r|`` (ties: lower index first)."""
    return np.argsort(-np.abs(r), kind="stable")[:k]


def channel_frequencies(
    acts: np.ndarray, labels: np.ndarray, k: int = 20, n_boot: int = 200, seed: int = 0
) -> pd.DataFrame:
    """Fig. 7 data: how often each channel is among the ``k`` most label-correlated channels
    (``|r|``) over ``n_boot`` bootstrap resamples of the test images (``np.random.default_rng
    (seed).integers(0, N, (n_boot, N))``). Channels ever in a top-k; columns: channel, r (all
    images), in_top_k (all images), count, frequency. Sorted by frequency, then ``|r|``."""
    n, c = acts.shape
    labels = np.asarray(labels, dtype=np.float64)
    r = channel_correlations(acts, labels)
    counts = np.zeros(c, dtype=int)
    draws = np.random.default_rng(seed).integers(0, n, (n_boot, n))
    for idx in draws:
        counts[top_channels(channel_correlations(acts[idx], labels[idx]), k)] += 1
    full_top = np.zeros(c, dtype=bool)
    full_top[top_channels(r, k)] = True
    keep = np.flatnonzero((counts > 0) | full_top)
    frame = pd.DataFrame(
        {
            "channel": keep,
            "r": r[keep],
            "in_top_k": full_top[keep],
            "count": counts[keep],
            "frequency": counts[keep] / n_boot,
        }
    )
    frame["_abs"] = frame["r"].abs()
    frame = frame.sort_values(["frequency", "_abs"], ascending=False, kind="stable")
    return frame.drop(columns="_abs").reset_index(drop=True)


def plot_channel_histogram(
    frame: pd.DataFrame, n_channels: int, k: int = 20, show: int = 40, run_label: str = ""
):
    """Fig. 7 (paper): channel utilisation histogram — frequency with which each stage-4 channel
    is among the top-``k`` channels most correlated with the complexity label (bootstrap over
    the test set); the ``show`` most frequent channels, out of ``n_channels``."""
    part = frame.head(show)
    fig, ax = new_figure(COLUMN_WIDTH, 2.2)
    colors = [color("d2s-r18") if t else color("cited") for t in part["in_top_k"]]
    ax.bar(np.arange(len(part)), part["frequency"], color=colors, width=0.8)
    ax.set_xticks(np.arange(len(part)))
    ax.set_xticklabels([str(c) for c in part["channel"]], rotation=90, fontsize=4.5)
    ax.set_xlabel(f"Channel (of {n_channels}; dark: top-{k} on the full test set)")
    ax.set_ylabel(f"Frequency in top-{k}")
    ax.set_ylim(0, 1.05)
    ax.grid(axis="x", visible=False)
    demo_note(fig, run_label)
    return fig


# Fig. 16 ------------------------------------------------------------------------------------------


class _Score:
    """Grad-CAM target: the model's scalar complexity score itself."""

    def __call__(self, output):
        return output


def gradcam_maps(model, images) -> np.ndarray:
    """Grad-CAM (``pytorch_grad_cam``) on stage 4 (``backbone.layer4``) for the scalar score:
    ``(N, H, W)`` in [0, 1], at the input size."""
    from pytorch_grad_cam import GradCAM

    model.eval()
    with GradCAM(model=model, target_layers=[model.backbone.layer4]) as cam:
        return cam(input_tensor=images, targets=[_Score() for _ in range(len(images))])


def activation_maps(model, images) -> dict[str, np.ndarray]:
    """Fig. 16 maps of each image: ``max`` and ``mean`` over the channels of the stage-4 map
    ``(N, h, w)`` and ``gradcam`` ``(N, H, W)``, plus the ``score`` ``(N,)``."""
    import torch

    model.eval()
    with torch.no_grad():
        feats = model.forward_features(images)
        score = model.forward_head(feats)
    return {
        "max": feats.amax(dim=1).numpy(),
        "mean": feats.mean(dim=1).numpy(),
        "gradcam": gradcam_maps(model, images),
        "score": score.numpy(),
    }


def pick_examples(labels: np.ndarray, n: int = 4) -> list[int]:
    """Indices of ``n`` images spread over the label range: nearest to the (i + 0.5)/n
    quantiles, without repeats."""
    labels = np.asarray(labels, dtype=np.float64)
    order = np.argsort(labels, kind="stable")
    picks: list[int] = []
    for i in range(min(n, len(labels))):
        pos = int(round((i + 0.5) / n * (len(labels) - 1)))
        candidates = [j for j in order[pos:]] + [j for j in order[:pos][::-1]]
        picks.append(next(int(j) for j in candidates if int(j) not in picks))
    return picks


def _normalise(m: np.ndarray) -> np.ndarray:
    """Min-max scaling to [0, 1] (a constant map, up to float noise, becomes 0)."""
    m = np.asarray(m, dtype=np.float64)
    span = m.max() - m.min()
    if span <= 1e-6 * max(1.0, float(np.abs(m).max())):
        return np.zeros_like(m)
    return (m - m.min()) / span


def _upsample(m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(m, dtype=np.float32))[None, None]
    return F.interpolate(t, size=size, mode="bilinear", align_corners=False)[0, 0].numpy()


def display_image(tensor) -> np.ndarray:
    """A normalised input tensor ``(3, H, W)`` back to an RGB array in [0, 1] ``(H, W, 3)``."""
    from d2s.train.data import IMAGENET_MEAN, IMAGENET_STD

    arr = tensor.numpy().transpose(1, 2, 0) * np.array(IMAGENET_STD) + np.array(IMAGENET_MEAN)
    return np.clip(arr, 0, 1)


def plot_activation_maps(
    pictures: np.ndarray, maps: dict[str, np.ndarray], titles: list[str], run_label: str = ""
):
    """Fig. 16 (paper): per example image (rows) the image and its stage-4 maps — maximum channel
    activation, mean channel activation, Grad-CAM — each min-max scaled and overlaid.

    ``pictures``: ``(N, H, W, 3)`` in [0, 1]; ``maps``: :func:`activation_maps` of those images.
    """
    n = len(pictures)
    fig, axes = new_figure(COLUMN_WIDTH, 0.85 * n + 0.25, n, 4, squeeze=False)
    columns = (
        ("image", None),
        ("channel max", "max"),
        ("channel mean", "mean"),
        ("Grad-CAM", "gradcam"),
    )
    for i in range(n):
        size = pictures[i].shape[:2]
        for j, (name, key) in enumerate(columns):
            ax = axes[i, j]
            ax.imshow(pictures[i])
            if key is not None:
                ax.imshow(
                    _upsample(_normalise(maps[key][i]), size), cmap="jet", alpha=0.5, vmin=0, vmax=1
                )
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if i == 0:
                shape = maps[key].shape[1:] if key is not None else ()
                size_note = (
                    f"\n({'×'.join(str(d) for d in shape)})" if key in ("max", "mean") else ""
                )
                ax.set_title(name + size_note, fontsize=6)
        axes[i, 0].set_ylabel(titles[i], fontsize=5)
    demo_note(fig, run_label)
    return fig
