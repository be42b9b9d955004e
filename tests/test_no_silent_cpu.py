"""No silent CPU: a paper run (or a captioning job) whose ``auto`` device finds no GPU stops with
exit 2 and the reason; ``device=cpu`` runs it on the CPU on purpose; the demo is unaffected."""

from __future__ import annotations

import pytest
import torch

from d2s.cli import main
from d2s.data.demo import make_demo
from d2s.train.checks import ConfigError
from d2s.train.step import refuse_silent_cpu


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    make_demo(root, seed=0, size=24, image_size=32)
    return root


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_paper_run_with_auto_device_and_no_gpu_stops_naming_the_reason(
    demo, tmp_path, no_cuda, capsys
):
    argv = ["train", "--out", str(tmp_path / "run"), "--no-progress", f"root={demo}"]
    argv += [f"captions={demo / 'captions.tsv'}", "clip_weights=random", "run_label=paper"]
    argv += ["device=auto", "epochs=1", "image_size=32", "pretrained=false"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "'device' is auto" in err and "device=cpu" in err and "d2s doctor" in err
    assert not (tmp_path / "run" / "last.pt").exists()


def test_explicit_cpu_and_the_demo_label_are_not_refused(no_cuda):
    refuse_silent_cpu("cpu", "paper")  # the user said so
    refuse_silent_cpu("auto", "demo")  # small runs: the CPU is their device
    refuse_silent_cpu("auto", "")  # d2s train by hand without the paper config's label
    with pytest.raises(ConfigError, match="CPU"):
        refuse_silent_cpu("auto", "paper")


def test_captioning_with_auto_device_and_no_gpu_stops(demo, tmp_path, no_cuda, capsys):
    argv = ["caption", "--captioner", "blip", "--model", str(tmp_path / "unused")]
    argv += ["--dataset", "ic9600", "--root", str(demo), "--out", str(tmp_path / "c.tsv")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--device auto" in err and "--device cpu" in err and "Traceback" not in err
    assert not (tmp_path / "c.tsv").exists()
