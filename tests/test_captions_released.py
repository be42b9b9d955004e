"""``d2s caption import``: the authors' released BLIP captions, in their exact format, as a cache.

The fixture is written the way the D2S repository's ``train_blip_caption.txt`` (commit 57e2c59)
is: ``<name>␣␣<score>␣␣<caption>␣`` with the score the float32 label printed as a Python float
and every BLIP output followed by ``". "``. The import runs through the real CLI
(``python -m d2s caption import``); the cache it writes goes through ``d2s text-features`` and a
tiny ``d2s train``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from data_fixtures import IC9600_TRAIN, write_ic9600

from d2s.text.cache import read_captions, read_metadata, sidecar_path
from d2s.text.released import CAPTIONER, check_against_split, parse_released

PNG = ("abstract_0099.png", 17 / 68)
TRAIN = [*IC9600_TRAIN, PNG]
SPACED = "objects_parking meter_COCO_train2014_000000451667.jpg"
#: Four BLIP outputs per image, each with its prefix, as BLIP-large writes them (lower case).
OUTPUTS = {
    SPACED: [
        "this image shows a man ' s hand holding a parking meter",
        "the main objects are a parking meter and a car car",
        "the background looks like a street",
        "the overall visual complexity is high",
    ],
    PNG[0]: [
        "this image shows a colorful abstract painting",
        "the main objects are lines",
        "the background looks blue",
        "the overall visual complexity is low",
    ],
}


def outputs_of(name: str) -> list[str]:
    return OUTPUTS.get(name) or [
        f"this image shows {name.split('_')[0]} number {len(name)}",
        "the main objects are shapes",
        "the background looks plain",
        "the overall visual complexity is medium",
    ]


def released_line(name: str, label: float, outputs: list[str]) -> str:
    """One line as the authors wrote it: float32 score, each output followed by '. '."""
    score = float(np.float32(label))
    return f"{name}  {score}  " + "".join(f"{text}. " for text in outputs) + "\n"


def expected_caption(outputs: list[str]) -> str:
    """What the authors' reader trains on: the stripped line's third field."""
    return "".join(f"{text}. " for text in outputs).strip()


@pytest.fixture
def root(tmp_path):
    return write_ic9600(tmp_path / "ic9600", train=TRAIN)


def write_released(path, rows=TRAIN):
    path.write_text("".join(released_line(n, s, outputs_of(n)) for n, s in rows), encoding="utf-8")
    return path


def run_d2s(*argv) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "d2s", *map(str, argv)], capture_output=True, text=True, env=env
    )


def test_the_fixture_is_in_the_released_format(tmp_path):
    line = released_line(SPACED, 34 / 68, OUTPUTS[SPACED])
    name, score, caption = line.split("  ")
    assert name == SPACED and score == "0.5" and caption.endswith(". \n")
    odd = released_line("person_0002.jpg", 0.6911764705882353, ["a"])
    assert odd.split("  ")[1] == "0.6911764740943909"  # the float32 label, as in the real file


def test_import_keeps_captions_verbatim_and_records_the_source(tmp_path, root):
    source = write_released(tmp_path / "train_blip_caption.txt")
    out = tmp_path / "caps" / "ic9600-blip-released.tsv"
    done = run_d2s("caption", "import", source, "--root", root, "--out", out)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["images"] == len(TRAIN) and record["split_items_without_caption"] == 0

    captions = read_captions(out)
    assert list(captions) == [name for name, _ in TRAIN]  # the file's order
    assert captions == {name: expected_caption(outputs_of(name)) for name, _ in TRAIN}
    assert captions[SPACED] == (
        "this image shows a man ' s hand holding a parking meter. the main objects are a "
        "parking meter and a car car. the background looks like a street. the overall visual "
        "complexity is high."
    )
    assert captions[PNG[0]].endswith("complexity is low.")
    meta = read_metadata(out)
    assert meta["complete"] is True and meta["count"] == len(TRAIN)
    assert meta["settings"]["captioner"] == CAPTIONER == "blip-released"
    assert meta["settings"]["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert meta["info"]["source"] == str(source) and meta["info"]["split"] == "train"

    again = run_d2s("caption", "import", source, "--root", root, "--out", out)
    assert again.returncode == 0 and json.loads(again.stdout)["already_imported"] is True


def test_wrong_score_and_unknown_name_are_named_and_nothing_is_written(tmp_path, root):
    rows = [*TRAIN[:3], ("person_0003.jpg", 0.5), *TRAIN[3:], TRAIN[0]]  # unknown name, repeat
    rows[1] = (rows[1][0], rows[1][1] + 1 / 68)  # the spaced name, its score off by one grade
    source = write_released(tmp_path / "train_blip_caption.txt", rows)
    with source.open("a", encoding="utf-8") as handle:
        handle.write("scenes_0010.jpg 0.5 one space only. \n")  # line 10
    out = tmp_path / "out.tsv"
    done = run_d2s("caption", "import", source, "--root", root, "--out", out)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    err = done.stderr
    assert err.startswith("d2s caption: error: ") and "4 problem(s)" in err
    assert f"{source}:2: {SPACED!r} has score {float(np.float32(rows[1][1]))!r}" in err
    assert f"but {root / 'train.txt'} gives {34 / 68!r}" in err
    assert f"{source}:4: 'person_0003.jpg' is not in {root / 'train.txt'}" in err
    assert f"{source}:9: 'abstract_0001.jpg' appears twice (first on line 1)" in err
    assert f"{source}:10: malformed line 'scenes_0010.jpg 0.5 one space only.'" in err
    assert f"{source}:3: 'person_0002.jpg'" not in err  # right score: no complaint
    assert not out.exists() and not sidecar_path(out).exists()


def test_split_dir_is_the_split_checked(tmp_path, root):
    split_dir = tmp_path / "splits"
    split_dir.mkdir()
    (split_dir / "train.txt").write_text("".join(f"{n}  {s}\n" for n, s in TRAIN[1:]))
    source = write_released(tmp_path / "train_blip_caption.txt")
    out = tmp_path / "out.tsv"
    argv = ["caption", "import", source, "--root", root, "--split-dir", split_dir, "--out", out]
    done = run_d2s(*argv)
    assert done.returncode == 2 and not out.exists()
    assert f"{source}:1: 'abstract_0001.jpg' is not in {split_dir / 'train.txt'}" in done.stderr
    write_released(source, TRAIN[1:])
    assert run_d2s(*argv).returncode == 0
    assert list(read_captions(out)) == [name for name, _ in TRAIN[1:]]


def test_an_existing_other_file_is_never_overwritten(tmp_path, root):
    source = write_released(tmp_path / "train_blip_caption.txt")
    out = tmp_path / "mine.tsv"
    out.write_text("image\tcaption\nx.jpg\tmy own words\n")
    done = run_d2s("caption", "import", source, "--root", root, "--out", out)
    assert done.returncode == 2 and f"{out} already exists" in done.stderr
    assert out.read_text() == "image\tcaption\nx.jpg\tmy own words\n"
    assert not sidecar_path(out).exists()


def test_parse_and_check_are_pure_functions():
    text = released_line(SPACED, 0.5, ["a"]) + "\n" + released_line("b.png", 0.25, ["b"])
    rows, problems = parse_released(text, "f.txt")
    assert problems == []
    assert [(r.name, r.score, r.caption, r.line) for r in rows] == [
        (SPACED, 0.5, "a.", 1),
        ("b.png", 0.25, "b.", 3),
    ]
    assert parse_released(text.replace("\n", "\r\n"), "f.txt") == (rows, [])  # CRLF lines
    labels = {SPACED: 0.5 + 9e-7, "b.png": 0.25 + 2e-6}
    assert check_against_split(rows, labels, "f.txt", "s") == [
        "f.txt:3: 'b.png' has score 0.25, but s gives 0.250002"
    ]


def test_imported_cache_feeds_text_features_and_training(tmp_path, root, text_encoder, monkeypatch):
    import d2s.text.clip
    from d2s.cli import main
    from d2s.text.features import load_text_features

    source = write_released(tmp_path / "train_blip_caption.txt")
    captions = tmp_path / "blip-released.tsv"
    assert run_d2s("caption", "import", source, "--root", root, "--out", captions).returncode == 0
    # The CLI builds the encoder itself; reuse the session's tiny random one (same id).
    monkeypatch.setattr(d2s.text.clip, "load_text_encoder", lambda **kwargs: text_encoder)
    features = tmp_path / "blip-released.pt"
    argv = ["text-features", "--captions", captions, "--out", features, "--clip-weights", "random"]
    assert main([str(a) for a in argv]) == 0
    record = load_text_features(features)
    assert record["names"] == [name for name, _ in TRAIN]
    direct = text_encoder([expected_caption(outputs_of(SPACED))])
    assert np.allclose(record["features"][1].numpy(), direct[0].numpy(), atol=1e-5)

    run = tmp_path / "run"
    train = ["train", "--out", run, "--no-progress", f"root={root}", "model=d2s-r18-gap",
             "image_size=32", "epochs=1", "batch_size=4", "pretrained=false", "device=cpu",
             f"text_features={features}"]  # fmt: skip
    assert main([str(a) for a in train]) == 0
    assert json.loads((run / "metrics.json").read_text())
