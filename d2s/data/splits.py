"""Reproducible splits, written to files.

Every split is a file ``<out>/<split>.txt`` in IC9600's own two-space format (``<name>␠␠<label>``,
label on [0, 1] written with ``repr`` so it reads back bit-exact), so one reader
(:func:`d2s.data.splitfile.read_pairs`, or ``load_items(..., split_dir=out)``) reads every split.
``<out>/splits.json`` records how they were made. Kinds (docs/design.md §1.1 and §3):

- ``official``: IC9600 ``train.txt`` / ``test.txt`` as released (other sets: ``all.txt``).
- ``val``: the honest ``select: val`` protocol; a seeded ``fraction`` (default 10%) of the official
  train set becomes ``val.txt``, the rest ``train.txt``; ``test.txt`` is the official test set.
- ``sst``: SST@X for each size X; (0, 1) cut into ten equal-width label bins ``[k/10, (k+1)/10)``
  (a label of exactly 1 falls in the last bin); X/10 images drawn without replacement per bin from
  the training set, all of a bin's images where it holds fewer. Files ``sst<X>.txt`` + ``test.txt``.
- ``nriqa``: seeded random 6:2:2 ``train`` / ``val`` / ``test`` of the whole set, labels min-max
  normalised over the whole set (``(y - min) / (max - min)``; docs/design.md §3 "min-max normalise MOS" --
  an affine map of MOS, so the same as min-max of the loader's [0, 1] labels).

Random draws use ``numpy.random.default_rng`` seeded with the user's seed (and, for SST, the size),
so a split depends only on (dataset, seed, kind, size) and never on file-system order.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from d2s.data.records import DatasetError, Item

SST_SIZES = (10, 50, 100, 500)
N_BINS = 10


def label_bin(label: float, n_bins: int = N_BINS) -> int:
    """Index of the equal-width bin of [0, 1] holding ``label`` (1.0 goes to the last bin)."""
    return min(int(label * n_bins), n_bins - 1)


def _rng(*seed: int):
    import numpy as np

    return np.random.default_rng(list(seed))


def carve_validation(
    items: Sequence[Item], fraction: float = 0.1, seed: int = 0
) -> tuple[list[Item], list[Item]]:
    """Split ``items`` into ``(train, val)``; ``round(fraction * n)`` (at least 1) go to val.

    Both keep the input order, so files diff cleanly against the official list.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), not {fraction}")
    n_val = max(1, round(fraction * len(items)))
    if n_val >= len(items):
        raise DatasetError(f"cannot carve {n_val} validation items out of {len(items)}")
    chosen = set(_rng(seed).permutation(len(items))[:n_val].tolist())
    train = [it for i, it in enumerate(items) if i not in chosen]
    val = [it for i, it in enumerate(items) if i in chosen]
    return train, val


def sst_sample(items: Sequence[Item], size: int, seed: int = 0, n_bins: int = N_BINS) -> list[Item]:
    """SST@``size``: ``size // n_bins`` items drawn per equal-width label bin (fewer if short)."""
    if size % n_bins:
        raise ValueError(f"SST size {size} is not a multiple of {n_bins}")
    per_bin = size // n_bins
    rng = _rng(seed, size)
    chosen: list[int] = []
    for k in range(n_bins):
        members = [i for i, it in enumerate(items) if label_bin(it.label, n_bins) == k]
        if len(members) > per_bin:
            members = sorted(rng.choice(members, size=per_bin, replace=False).tolist())
        chosen.extend(members)
    return [items[i] for i in sorted(chosen)]


def nriqa_split(
    items: Sequence[Item], seed: int = 0, ratios: tuple[int, int, int] = (6, 2, 2)
) -> dict[str, list[Item]]:
    """Seeded random ``train``/``val``/``test`` in ``ratios``, labels min-max normalised."""
    if len(items) < 3:
        raise DatasetError(f"need at least 3 items for a 6:2:2 split, have {len(items)}")
    labels = [it.label for it in items]
    low, high = min(labels), max(labels)
    if high <= low:
        raise DatasetError("all labels are equal; cannot min-max normalise")
    scaled = [Item(it.name, it.path, (it.label - low) / (high - low), it.category) for it in items]
    order = _rng(seed).permutation(len(items)).tolist()
    n = len(items)
    cut1 = n * ratios[0] // sum(ratios)
    cut2 = n * (ratios[0] + ratios[1]) // sum(ratios)
    parts = {"train": order[:cut1], "val": order[cut1:cut2], "test": order[cut2:]}
    return {name: [scaled[i] for i in sorted(idx)] for name, idx in parts.items()}


#: Written into every folder of split files this suite made (the output policy's "ours").
MARKER = ".d2s-splits.json"


def write_split(items: Sequence[Item], path: str | os.PathLike) -> Path:
    from d2s.data.splitfile import write_pairs

    return write_pairs(((it.name, it.label) for it in items), path)


def make_splits(
    dataset: str,
    root: str | os.PathLike,
    out: str | os.PathLike,
    kind: str,
    seed: int = 0,
    sizes: Sequence[int] = SST_SIZES,
    val_fraction: float = 0.1,
) -> dict[str, int]:
    """Write the split files of ``kind`` for ``dataset`` under ``out``; return counts per file."""
    from d2s.core.io import atomic_write_text
    from d2s.data.registry import get_spec, load_items

    spec = get_spec(dataset)
    out = Path(out)
    has_official = "train" in spec.splits and "test" in spec.splits
    splits: dict[str, list[Item]] = {}
    if kind == "official":
        if has_official:
            splits = {s: load_items(spec.name, root, s) for s in spec.splits}
        else:
            splits = {"all": load_items(spec.name, root, None)}
    elif kind in ("val", "sst"):
        if not has_official:
            raise DatasetError(f"{spec.title} has no official train/test split for kind {kind!r}")
        train = load_items(spec.name, root, "train")
        splits["test"] = load_items(spec.name, root, "test")
        if kind == "val":
            splits["train"], splits["val"] = carve_validation(train, val_fraction, seed)
        else:
            for size in sizes:
                splits[f"sst{size}"] = sst_sample(train, size, seed)
    elif kind == "nriqa":
        splits = nriqa_split(load_items(spec.name, root, None), seed)
    else:
        raise ValueError(f"unknown split kind {kind!r}")
    counts = {}
    for name, items in splits.items():
        write_split(items, out / f"{name}.txt")
        counts[name] = len(items)
    record = {
        "dataset": spec.name,
        "kind": kind,
        "seed": seed,
        "counts": counts,
        "format": "<name>  <label> (two spaces), label on [0,1]",
    }
    if kind == "val":
        record["val_fraction"] = val_fraction
    if kind == "sst":
        record["sizes"] = list(sizes)
    if kind == "nriqa":
        record["ratios"] = [6, 2, 2]
        record["normalisation"] = "min-max over the whole set"
    atomic_write_text(json.dumps(record, indent=2) + "\n", out / "splits.json")
    # hidden, so it survives Snakemake deleting splits.json before a re-run: "this folder is ours"
    atomic_write_text(json.dumps(record, indent=2) + "\n", out / MARKER)
    return counts
