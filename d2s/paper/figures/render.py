"""Render one figure from result files: load (``.sources``), plot, save (``.style``).

:func:`render` is what ``d2s figure NAME`` runs; each ``_figN`` reads the inputs it needs from
:class:`Inputs` and returns ``(fig, data, meta, arrays)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from d2s.paper.figures import FIGURES
from d2s.paper.figures.sources import (
    FigureError,
    RunRef,
    load_images,
    read_predictions,
    read_table,
    run_config,
    run_sources,
    split_items,
)


@dataclass
class Inputs:
    """What a figure may read. ``runs``: labelled run folders (a label repeated = seeds)."""

    out: str
    table: str | None = None
    runs: list[RunRef] = field(default_factory=list)
    features: str | None = None
    #: more figure-features files for Figs. 4(d)/14: one panel each (e.g. the other eal_mode)
    compare_features: list[str] = field(default_factory=list)
    captions: str | None = None
    dataset: str | None = None
    root: str | None = None
    config_name: str = ""
    run_label: str = ""
    examples: int = 4
    n_boot: int = 200
    batch_size: int = 64

    def need(self, *names: str) -> None:
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            raise FigureError(f"this figure needs --{', --'.join(missing).replace('_', '-')}")

    def first_run(self) -> RunRef:
        self.need("runs")
        return self.runs[0]


def _table_meta(inputs: Inputs, what: str) -> list[dict[str, Any]]:
    return [{"file": str(inputs.table), "what": what}]


def _fig2(inputs: Inputs):
    from d2s.paper.figures.accuracy import method_points, plot_accuracy

    inputs.need("table")
    points = method_points(read_table(inputs.table), ("srcc", "plcc"))
    fig, plotted = plot_accuracy(points, inputs.run_label)
    return fig, plotted, {"sources": _table_meta(inputs, "Table 1")}, None


def _fig3(inputs: Inputs):
    from d2s.paper.figures.accuracy import method_points, plot_efficiency

    inputs.need("table")
    points = method_points(read_table(inputs.table), ("srcc", "plcc", "params_m", "latency_ms"))
    fig, plotted, mode = plot_efficiency(points, inputs.run_label)
    notes = []
    if mode == "params-only":
        notes.append(
            "latency_ms is absent for the reproduced models (latency benchmark not run): "
            "drawn as params vs SRCC"
        )
    return (
        fig,
        plotted,
        {"sources": _table_meta(inputs, "Table 1"), "mode": mode, "notes": notes},
        None,
    )


def _sweep(inputs: Inputs):
    from d2s.paper.figures.sweeps import plot_sweep, sweep_points

    inputs.need("table")
    points = sweep_points(read_table(inputs.table))
    if points.empty:
        raise FigureError(f"{inputs.table}: no reproduced sweep rows")
    return (
        plot_sweep(points, inputs.run_label),
        points,
        {"sources": _table_meta(inputs, "coefficient sweep")},
        None,
    )


def _fig8(inputs: Inputs):
    from d2s.paper.figures.errors import binned_mae, plot_binned_mae

    inputs.need("runs")
    table = binned_mae(read_predictions(inputs.runs))
    return (
        plot_binned_mae(table, run_label=inputs.run_label),
        table,
        {
            "sources": run_sources(inputs.runs),
            "notes": [
                "bins: ten uniform intervals of the ground-truth score; MAE mean ± std over seeds"
            ],
        },
        None,
    )


def _fig9(inputs: Inputs):
    from d2s.paper.figures.errors import per_category, plot_per_category

    inputs.need("runs")
    table = per_category(read_predictions(inputs.runs))
    return (
        plot_per_category(table, inputs.run_label),
        table,
        {"sources": run_sources(inputs.runs)},
        None,
    )


def _fig15(inputs: Inputs):
    from d2s.paper.figures.errors import plot_scatter, scatter_data

    inputs.need("runs")
    data = scatter_data(read_predictions(inputs.runs))
    used = [r for r in inputs.runs if str(r.folder) in set(data["run"])]
    return plot_scatter(data, inputs.run_label), data, {"sources": run_sources(used)}, None


def _features(inputs: Inputs):
    from d2s.paper.figures.alignment import compute_features, load_features

    if inputs.features:
        return load_features(inputs.features)
    return compute_features(inputs.first_run().folder, inputs.root, inputs.batch_size)


def _feature_sources(inputs: Inputs, meta: dict) -> list[dict]:
    source = {"label": "D2S", "run": meta.get("run", "")}
    source.update({k: meta[k] for k in ("model", "seed", "after_epoch") if k in meta})
    out = [source]
    if inputs.features:
        out.append({"file": inputs.features, "what": "figure features (d2s figure features)"})
    return out


def _entropy(inputs: Inputs, variant: str):
    import pandas as pd

    from d2s.paper.figures.alignment import (
        entropy_frame,
        entropy_shifts,
        load_features,
        plot_entropy,
    )

    arrays, meta = _features(inputs)
    runs = [(arrays, meta), *(load_features(path) for path in inputs.compare_features)]
    frames, panels = [], []
    for run_arrays, run_meta in runs:
        frame = entropy_frame(run_arrays)
        if inputs.compare_features:  # one panel per run, named by the option that differs
            frame.insert(0, "panel", f"eal_mode: {run_meta.get('eal_mode', '?')}")
            panels.append(
                {
                    "panel": frame["panel"].iloc[0],
                    "run": run_meta.get("run", ""),
                    **entropy_shifts(frame),
                }
            )
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    fig = plot_entropy(frame, variant, inputs.run_label)
    record = {"sources": _feature_sources(inputs, meta), "features": meta}
    if panels:
        record["panels"] = panels
        record["sources"] += [
            {"file": path, "what": "figure features, compared panel"}
            for path in inputs.compare_features
        ]
    else:
        record["entropy_shift"] = entropy_shifts(frame)
    return fig, frame, record, None


def _tsne(inputs: Inputs, stages: tuple[str, ...]):
    from d2s.paper.figures.alignment import plot_tsne, tsne_frame

    arrays, meta = _features(inputs)
    frame = tsne_frame(arrays, stages)
    fig = plot_tsne(frame, inputs.run_label)
    return (
        fig,
        frame,
        {
            "sources": _feature_sources(inputs, meta),
            "features": meta,
            "notes": [
                "t-SNE (scikit-learn, init pca, random_state 0) of the "
                "L2-normalised features, one embedding per stage"
            ],
        },
        None,
    )


def _trained(inputs: Inputs):
    """The first run's best.pt model, its config and its test items."""
    from d2s.checkpoint import load_model

    ref = inputs.first_run()
    model, data = load_model(ref.folder / "best.pt")
    config = run_config(ref.folder)
    return ref, model, config, split_items(config, inputs.root)


def _fig6(inputs: Inputs):
    from d2s.paper.figures.probes import low_level_stats, plot_low_level

    ref = inputs.first_run()
    predictions = read_predictions([ref])
    config = run_config(ref.folder)
    paths = {item.name: str(item.path) for item in split_items(config, inputs.root)}
    missing = sorted(set(predictions["image"]) - set(paths))
    if missing:
        raise FigureError(
            f"{ref.folder}: {len(missing)} predicted image(s) not in the test "
            f"split, e.g. {missing[0]!r}"
        )
    frame = low_level_stats(predictions, paths)
    return (
        plot_low_level(frame, ref.label, inputs.run_label),
        frame,
        {"sources": run_sources([ref])},
        None,
    )


def _fig7(inputs: Inputs):
    from d2s.paper.figures.probes import (
        channel_activations,
        channel_frequencies,
        plot_channel_histogram,
    )

    ref, model, config, items = _trained(inputs)
    images = load_images(items, config.image_size)
    acts = channel_activations(model, images, inputs.batch_size)
    labels = np.array([item.label for item in items], dtype=np.float64)
    frame = channel_frequencies(acts, labels, k=20, n_boot=inputs.n_boot)
    fig = plot_channel_histogram(frame, acts.shape[1], run_label=inputs.run_label)
    note = "stage-4 channels averaged over space; |Pearson r| with the label; frequency over "
    note += f"{inputs.n_boot} bootstrap resamples of the test set"
    return fig, frame, {"sources": run_sources([ref]), "notes": [note]}, None


def _fig16(inputs: Inputs):
    import pandas as pd

    from d2s.paper.figures.probes import (
        activation_maps,
        display_image,
        pick_examples,
        plot_activation_maps,
    )

    ref, model, config, items = _trained(inputs)
    labels = np.array([item.label for item in items], dtype=np.float64)
    picks = pick_examples(labels, inputs.examples)
    chosen = [items[i] for i in picks]
    images = load_images(chosen, config.image_size)
    maps = activation_maps(model, images)
    pictures = np.stack([display_image(t) for t in images])
    titles = [
        f"gt {it.label:.2f} / pred {s:.2f}" for it, s in zip(chosen, maps["score"], strict=True)
    ]
    fig = plot_activation_maps(pictures, maps, titles, inputs.run_label)
    data = pd.DataFrame(
        {
            "image": [it.name for it in chosen],
            "target": [it.label for it in chosen],
            "prediction": maps["score"],
            "max_peak": maps["max"].reshape(len(chosen), -1).max(axis=1),
            "mean_peak": maps["mean"].reshape(len(chosen), -1).max(axis=1),
            "gradcam_mean": maps["gradcam"].reshape(len(chosen), -1).mean(axis=1),
        }
    )
    arrays = {
        "max": maps["max"],
        "mean": maps["mean"],
        "gradcam": maps["gradcam"],
        "names": np.array(data["image"]),
    }
    return (
        fig,
        data,
        {
            "sources": run_sources([ref]),
            "notes": ["Grad-CAM: pytorch_grad_cam on backbone.layer4, target = the scalar score"],
        },
        arrays,
    )


def _dataset_labels(inputs: Inputs) -> dict[str, tuple[float, str]]:
    from d2s.data import load_items

    inputs.need("dataset", "root")
    out: dict[str, tuple[float, str]] = {}
    for split in ("train", "test"):
        for item in load_items(inputs.dataset, inputs.root, split):
            out[item.name] = (float(item.label), str(item.path))
    return out


def _captions(inputs: Inputs, part: int):
    from PIL import Image

    from d2s.paper.figures.captions import decile_examples, plot_caption_examples
    from d2s.train.data import read_captions

    inputs.need("captions")
    items = _dataset_labels(inputs)
    captions = read_captions(inputs.captions)
    examples = decile_examples({k: v[0] for k, v in items.items()}, captions)
    examples = examples[examples["decile"].between(5 * part, 5 * part + 4)]
    pictures = {}
    for name in examples["image"]:
        if name:
            with Image.open(items[name][1]) as image:
                image = image.convert("RGB")
                image.thumbnail((256, 256))
                pictures[name] = np.asarray(image)
    title = FIGURES["fig17" if part == 0 else "fig18"][0]
    fig = plot_caption_examples(examples.reset_index(drop=True), pictures, title, inputs.run_label)
    sources = [
        {"file": inputs.captions, "what": "caption cache"},
        {"file": inputs.root, "what": f"{inputs.dataset} labels (train + test)"},
    ]
    return fig, examples, {"sources": sources}, None


RENDERERS = {
    "fig2": _fig2,
    "fig3": _fig3,
    "fig4d": lambda i: _entropy(i, "fig4d"),
    "fig14": lambda i: _entropy(i, "fig14"),
    "fig4e": lambda i: _tsne(i, ("before", "after")),
    "fig12": lambda i: _tsne(i, ("before",)),
    "fig13": lambda i: _tsne(i, ("after",)),
    "fig6": _fig6,
    "fig7": _fig7,
    "fig8": _fig8,
    "fig9": _fig9,
    "fig10": _sweep,
    "fig11": _sweep,
    "fig15": _fig15,
    "fig16": _fig16,
    "fig17": lambda i: _captions(i, 0),
    "fig18": lambda i: _captions(i, 1),
}


def render(name: str, inputs: Inputs) -> dict[str, str]:
    """Render figure ``name`` to ``{inputs.out}.png/.pdf/.csv/.json``; returns the paths."""
    from d2s.paper.figures.style import save_figure

    if name not in RENDERERS:
        raise FigureError(f"unknown figure {name!r}; known: {', '.join(RENDERERS)}")
    fig, data, meta, arrays = RENDERERS[name](inputs)
    title, caption, drawn_from = FIGURES[name]
    record = {
        "figure": name,
        "title": title,
        "caption": caption,
        "drawn_from": drawn_from,
        "config": inputs.config_name,
        "run_label": inputs.run_label,
        "notes": [],
        **meta,
    }
    Path(inputs.out).parent.mkdir(parents=True, exist_ok=True)
    return save_figure(fig, inputs.out, data, record, arrays)
