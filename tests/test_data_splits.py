"""Split files: the two-space format round-trips; val, SST and NR-IQA splits are seeded and exact."""

from __future__ import annotations

from pathlib import Path

import pytest
from data_fixtures import write_ic9600, write_kadid

from d2s.data import DatasetError, Item, load_items
from d2s.data.splitfile import format_pairs, read_pairs
from d2s.data.splits import carve_validation, make_splits, nriqa_split, sst_sample


def _items(labels):
    return [Item(f"img {i:03d}.jpg", Path(f"/x/img {i:03d}.jpg"), y) for i, y in enumerate(labels)]


def test_split_file_round_trip_is_exact(tmp_path):
    pairs = [("objects_parking meter_1.jpg", 1 / 3), ("a.jpg", 0.1 + 0.2), ("b.jpg", 1.0)]
    path = tmp_path / "s.txt"
    path.write_text(format_pairs(pairs))
    assert [(n, s) for n, s, _ in read_pairs(path)] == pairs  # bit-exact floats
    assert "objects_parking meter_1.jpg  0.3333333333333333\n" in path.read_text()
    with pytest.raises(ValueError):
        format_pairs([("two  spaces.jpg", 0.5)])


def test_sst_sampler_respects_bins():
    import numpy as np

    rng = np.random.default_rng(3)
    # Uneven bins: bin 9 holds 2 images, bin 0 holds 40, the rest 12.
    labels = list(rng.uniform(0.0, 0.1, 40)) + [0.95, 1.0]
    for k in range(1, 9):
        labels += list(rng.uniform(k / 10, (k + 1) / 10 - 1e-9, 12))
    items = _items(labels)
    for size in (10, 50, 100):
        chosen = sst_sample(items, size, seed=7)
        assert len({i.name for i in chosen}) == len(chosen)
        per_bin = {}
        for it in chosen:  # bins computed here independently of the sampler
            k = 9 if it.label >= 0.9 else int(np.floor(it.label * 10))
            per_bin[k] = per_bin.get(k, 0) + 1
        available = {k: sum(1 for y in labels if min(int(y * 10), 9) == k) for k in range(10)}
        for k in range(10):
            assert per_bin.get(k, 0) == min(size // 10, available[k]), (size, k)
    assert sst_sample(items, 50, seed=7) == sst_sample(items, 50, seed=7)
    assert sst_sample(items, 50, seed=7) != sst_sample(items, 50, seed=8)
    with pytest.raises(ValueError):
        sst_sample(items, 15)


def test_validation_carve_out_is_seeded_and_disjoint():
    items = _items([i / 99 for i in range(100)])
    train, val = carve_validation(items, 0.1, seed=42)
    assert len(val) == 10 and len(train) == 90
    assert {i.name for i in train}.isdisjoint({i.name for i in val})
    assert carve_validation(items, 0.1, seed=42) == (train, val)
    assert carve_validation(items, 0.1, seed=43)[1] != val


def test_nriqa_split_6_2_2_min_max():
    items = _items([0.2 + 0.5 * i / 49 for i in range(50)])
    parts = nriqa_split(items, seed=1)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [30, 10, 10]
    names = [i.name for p in parts.values() for i in p]
    assert sorted(names) == sorted(i.name for i in items)
    labels = [i.label for p in parts.values() for i in p]
    assert min(labels) == 0.0 and max(labels) == 1.0
    assert nriqa_split(items, seed=1) == parts and nriqa_split(items, seed=2) != parts


def test_make_splits_files_read_back_through_load_items(tmp_path):
    root = write_ic9600(tmp_path / "IC9600")
    counts = make_splits("ic9600", root, tmp_path / "val", kind="val", seed=0, val_fraction=0.34)
    assert counts == {"test": 2, "train": 4, "val": 2}
    val = load_items("ic9600", root, "val", split_dir=tmp_path / "val")
    train = load_items("ic9600", root, "train", split_dir=tmp_path / "val")
    official = {i.name: i for i in load_items("ic9600", root, "train")}
    assert {i.name for i in val} | {i.name for i in train} == set(official)
    assert all(i.label == official[i.name].label and i.category for i in val)
    assert (tmp_path / "val" / "splits.json").is_file()

    make_splits("ic9600", root, tmp_path / "sst", kind="sst", seed=0, sizes=[10])
    sst = read_pairs(tmp_path / "sst" / "sst10.txt")
    assert len(sst) == 6  # six training labels in six different bins: one each

    kadid = write_kadid(tmp_path / "kadid")
    counts = make_splits("kadid10k", kadid, tmp_path / "nr", kind="nriqa", seed=0)
    assert sum(counts.values()) == 4
    labels = [
        y for f in ("train", "val", "test") for _, y, _ in read_pairs(tmp_path / "nr" / f"{f}.txt")
    ]
    assert min(labels) == 0.0 and max(labels) == 1.0
    with pytest.raises(DatasetError, match="no official train/test"):
        make_splits("kadid10k", kadid, tmp_path / "x", kind="sst")
    (tmp_path / "val" / "val.txt").write_text("nonexistent.jpg  0.5\n")
    with pytest.raises(DatasetError, match=r"val\.txt:1: 'nonexistent\.jpg' is not an item"):
        load_items("ic9600", root, "val", split_dir=tmp_path / "val")
