"""Broken datasets give a clear DatasetError naming the file (and line) and the problem."""

from __future__ import annotations

import shutil

import pytest
from data_fixtures import (
    truncate,
    write_ic9600,
    write_kadid,
    write_labels_csv,
    write_savoias,
    write_tid2013,
)

from d2s.cli import main
from d2s.data import DatasetError, load_items
from d2s.data.validate import check_decodable, summarize


@pytest.fixture(scope="module")
def data_good_ic9600(tmp_path_factory):
    return write_ic9600(tmp_path_factory.mktemp("good") / "IC9600")


@pytest.fixture
def data_ic9600(data_good_ic9600, tmp_path):
    """A fresh copy to break."""
    return shutil.copytree(data_good_ic9600, tmp_path / "IC9600")


def test_truncated_image_named_by_decode_check_and_torch_dataset(data_ic9600):
    name = "objects_parking meter_COCO_train2014_000000451667.jpg"
    truncate(data_ic9600 / "images" / name)
    items = load_items("ic9600", data_ic9600, "train")  # existence only: still loads
    with pytest.raises(DatasetError, match=r"parking meter.*cannot decode"):
        check_decodable(items)
    with pytest.raises(DatasetError, match=r"parking meter.*cannot decode"):
        summarize("ic9600", data_ic9600)
    assert summarize("ic9600", data_ic9600, decode=False)["train"] == 6
    pytest.importorskip("torch")
    from d2s.data.torch_dataset import ImageDataset

    with pytest.raises(DatasetError, match=r"parking meter.*cannot decode"):
        ImageDataset(items)[1]


def test_missing_image_named_with_line(data_ic9600):
    (data_ic9600 / "images" / "person_0002.jpg").unlink()
    with pytest.raises(DatasetError, match=r"train\.txt:3: image 'person_0002\.jpg' not found"):
        load_items("ic9600", data_ic9600, "train")


def test_missing_split_file(data_ic9600):
    (data_ic9600 / "test.txt").unlink()
    with pytest.raises(DatasetError, match=r"test\.txt: missing split file"):
        load_items("ic9600", data_ic9600, "test")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("person_0002.jpg 0.5", r"train\.txt:7: malformed line .*two spaces"),
        ("person_0099.jpg  high", r"train\.txt:7: score 'high' is not a number"),
        ("person_0099.jpg  1.25", r"train\.txt:7: label 1\.25 out of range \[0, 1\]"),
        ("abstract_0001.jpg  0.5", r"train\.txt:7: image 'abstract_0001\.jpg' is listed twice"),
    ],
)
def test_bad_split_lines(data_ic9600, line, message):
    with (data_ic9600 / "train.txt").open("a") as handle:
        handle.write(line + "\n")
    with pytest.raises(DatasetError, match=message):
        load_items("ic9600", data_ic9600, "train")


def test_image_in_both_splits(data_ic9600):
    with (data_ic9600 / "test.txt").open("a") as handle:
        handle.write("abstract_0001.jpg  0.5\n")
    with pytest.raises(DatasetError, match="in both train and test"):
        summarize("ic9600", data_ic9600, decode=False)


def test_cli_inspect_reports_the_offending_line(data_ic9600, capsys):
    with (data_ic9600 / "test.txt").open("a") as handle:
        handle.write("person_0002.jpg 0.5\n")
    assert main(["data", "inspect", "ic9600", str(data_ic9600)]) == 2
    err = capsys.readouterr().err
    assert "test.txt:3: malformed line" in err and "Traceback" not in err


def test_label_out_of_range_in_other_layouts(tmp_path):
    write_kadid(tmp_path / "kadid", rows=[("I01_01_01.png", "I01.png", 5.5)])
    with pytest.raises(DatasetError, match=r"dmos\.csv:2: label 5\.5 out of range \[1, 5\]"):
        load_items("kadid10k", tmp_path / "kadid")
    write_labels_csv(tmp_path / "visc", [("a.jpg", 0.2), ("b.jpg", 1.3)])
    with pytest.raises(DatasetError, match=r"labels\.csv:3: label 1\.3 out of range"):
        load_items("visc-c", tmp_path / "visc")
    write_tid2013(tmp_path / "tid", rows=[(9.5, "i01_01_1.bmp", "i01_01_1.bmp")])
    with pytest.raises(DatasetError, match=r"mos_with_names\.txt:1: label 9\.5 out of range"):
        load_items("tid2013", tmp_path / "tid")


def test_malformed_tid_line_and_duplicate_csv_row(tmp_path):
    root = write_tid2013(tmp_path / "tid")
    with (root / "mos_with_names.txt").open("a") as handle:
        handle.write("4.2\n")
    with pytest.raises(DatasetError, match=r"mos_with_names\.txt:4: malformed line"):
        load_items("tid2013", root)
    write_labels_csv(tmp_path / "visc", [("a.jpg", 0.2), ("a.jpg", 0.3)])
    with pytest.raises(DatasetError, match=r"'a\.jpg' is listed more than once"):
        load_items("visc-c", tmp_path / "visc")


def test_savoias_missing_image_and_bad_score(tmp_path):
    root = write_savoias(tmp_path / "sav")
    next((root / "Images" / "Art").glob("2.*")).unlink()
    with pytest.raises(DatasetError, match=r"global_ranking_art\.xlsx: 2 scores but 1 images"):
        load_items("savoias", root)
    root = write_savoias(tmp_path / "sav2")
    import pandas as pd

    pd.DataFrame({"gt": [12, 180, 45]}).to_excel(
        root / "Ground truth" / "xlsx" / "global_ranking_ad.xlsx", index=False
    )
    with pytest.raises(DatasetError, match=r"global_ranking_ad\.xlsx: row 3: label 180"):
        load_items("savoias", root)
