"""Loaders read each official layout (docs/design.md §3) to the right names, labels and categories."""

from __future__ import annotations

import math

import pytest
from data_fixtures import (
    IC9600_TEST,
    IC9600_TRAIN,
    KADID,
    KONIQ,
    SAVOIAS,
    TID,
    savoias_suffix,
    write_ic9600,
    write_kadid,
    write_koniq,
    write_labels_csv,
    write_savoias,
    write_tid2013,
)

from d2s.data import DatasetError, Item, load_items


@pytest.fixture(scope="module")
def data_roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("official")
    return {
        "ic9600": write_ic9600(base / "IC9600"),
        "savoias": write_savoias(base / "Savoias-Dataset"),
        "kadid10k": write_kadid(base / "kadid10k"),
        "koniq10k": write_koniq(base / "koniq10k"),
        "tid2013": write_tid2013(base / "tid2013"),
        "visc-c": write_labels_csv(base / "VISC-C", [("a.jpg", 0.16), ("b c.png", 0.85)]),
        "nagle4k": write_labels_csv(
            base / "nagle4k",
            [("2008_000001.jpg", 12.5), ("2008_000002.jpg", 30.0), ("2008_000003.jpg", 20.0)],
        ),
    }


def test_ic9600_names_with_spaces_labels_categories(data_roots):
    root = data_roots["ic9600"]
    train = load_items("ic9600", root, "train")
    test = load_items("ic9600", root, "test")
    assert [(i.name, i.label) for i in train] == IC9600_TRAIN
    assert [(i.name, i.label) for i in test] == IC9600_TEST
    spaced = next(i for i in train if i.name.startswith("objects_parking meter"))
    assert spaced.category == "objects"
    assert spaced.path == root / "images" / "objects_parking meter_COCO_train2014_000000451667.jpg"
    assert [i.category for i in test] == ["architecture", "advertisement"]
    assert len(load_items("ic9600", root, None)) == len(IC9600_TRAIN) + len(IC9600_TEST)


def test_savoias_xlsx_rows_match_numeric_stems_with_mixed_extensions(data_roots):
    items = load_items("savoias", data_roots["savoias"])
    assert len(items) == sum(len(v) for v in SAVOIAS.values())
    by_name = {i.name: i for i in items}
    suffixes = set()
    for category, scores in SAVOIAS.items():
        for number, score in enumerate(scores, start=1):
            suffix = savoias_suffix(category, number)
            suffixes.add(suffix)
            item = by_name[f"{category}/{number}{suffix}"]
            assert item.label == pytest.approx(score / 100)
            assert item.category == category
    assert suffixes == {".jpg", ".png"}


def test_kadid_dmos_csv(data_roots):
    items = load_items("kadid10k", data_roots["kadid10k"])
    assert [i.name for i in items] == [r[0] for r in KADID]
    assert [i.label for i in items] == pytest.approx([(r[2] - 1) / 4 for r in KADID])
    assert items[1].label == 0.0 and items[2].label == 1.0  # dmos 1 and 5: the scale's ends


def test_koniq_official_csv_uses_mos_zscore(data_roots):
    items = load_items("koniq10k", data_roots["koniq10k"])
    assert [i.name for i in items] == [r[0] for r in KONIQ]
    assert [i.label for i in items] == pytest.approx([r[2] / 100 for r in KONIQ])
    assert items[0].path.parent.name == "512x384"


def test_koniq_without_zscore_maps_mos_1_to_5(tmp_path):
    root = write_koniq(tmp_path / "k", folder="1024x768")
    path = root / "koniq10k_scores_and_distributions.csv"
    text = path.read_text().splitlines()
    header = text[0].split(",")
    drop = header.index("MOS_zscore")
    path.write_text(
        "\n".join(",".join(c for j, c in enumerate(line.split(",")) if j != drop) for line in text)
    )
    items = load_items("koniq10k", root)
    assert [i.label for i in items] == pytest.approx([(r[1] - 1) / 4 for r in KONIQ])
    assert items[0].path.parent.name == "1024x768"


def test_tid2013_mos_with_names_and_case_of_names(data_roots):
    items = load_items("tid2013", data_roots["tid2013"])
    assert [i.label for i in items] == pytest.approx([m / 9 for m, _, _ in TID])
    assert items[2].path.name == "I25_01_1.bmp"  # listed as i25_01_1.bmp
    assert all(i.path.is_file() for i in items)


def test_visc_labels_csv_kept_and_nagle_min_max(data_roots):
    visc = load_items("visc-c", data_roots["visc-c"])
    assert [(i.name, i.label) for i in visc] == [("a.jpg", 0.16), ("b c.png", 0.85)]
    nagle = load_items("nagle4k", data_roots["nagle4k"])
    assert [i.label for i in nagle] == pytest.approx([0.0, 1.0, 7.5 / 17.5])


def test_item_is_frozen_record(data_roots):
    item = load_items("visc-c", data_roots["visc-c"])[0]
    assert isinstance(item, Item)
    with pytest.raises(AttributeError):
        item.label = 0.5  # type: ignore[misc]


def test_unknown_dataset_and_split(data_roots):
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_items("imagenet", data_roots["ic9600"])
    with pytest.raises(DatasetError, match="splits"):
        load_items("ic9600", data_roots["ic9600"], "val")
    with pytest.raises(DatasetError, match="folder not found"):
        load_items("ic9600", data_roots["ic9600"] / "nope")


def test_image_dataset_returns_tensor_label_index(data_roots):
    torch = pytest.importorskip("torch")
    from d2s.data.torch_dataset import ImageDataset

    items = load_items("ic9600", data_roots["ic9600"], "test")
    dataset = ImageDataset(items)
    image, label, index = dataset[1]
    assert image.shape == (3, 16, 16) and image.dtype == torch.float32
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    assert label.dtype == torch.float32 and math.isclose(float(label), 5 / 68, rel_tol=1e-6)
    assert index == 1
    flipped = ImageDataset(items, transform=lambda im: torch.zeros(1, *im.size))
    assert flipped[0][0].shape == (1, 16, 16)
