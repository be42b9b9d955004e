"""``d2s demo``, the quick first look (docs/demo.md), end to end at toy scale, so it cannot rot."""

import json

from d2s.cli import main


def test_demo_trains_and_writes_a_labelled_summary(tmp_path):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--size", "32", "--image-size", "32", "--epochs", "2"]
    args += [
        "--batch-size",
        "4",
        "--buffer-size",
        "8",
        "--refresh-steps",
        "2",
        "--eal-mode",
        "online",
    ]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["run"] == "demo" and "not the paper" in summary["note"]
    assert summary["eal_mode"] == "online" and summary["model"] == "d2s-r18"
    assert summary["train_items"] + summary["test_items"] == 32
    assert len(summary["history"]) == 2
    last = summary["test_metrics"]
    assert all(k in last for k in ("srcc", "plcc", "rmse", "rmae", "mse", "eal", "fal"))
    assert last["eal"] > 0  # buffers of 8 fill after two batches of 4
    assert not list(out.glob("**/*.part"))


def test_demo_with_too_few_images_is_a_clear_error(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--size", "16", "--image-size", "32"]) == 2
    assert "too few" in capsys.readouterr().err
