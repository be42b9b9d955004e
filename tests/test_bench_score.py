"""``d2s score`` at scale: the whole process vs a decode-and-resize-only pipeline with the same
workers (target: at most 1.2× at the demo checkpoint's 48 px), start-up excluded as the marginal
cost of N → 2N JPEGs of 1024×768 (written here). ``pytest --benchmark-only
tests/test_bench_score.py`` reports it in ``extra_info``; the body runs tiny in the normal run."""

from __future__ import annotations

import torch

from d2s.checkpoint import save_checkpoint
from d2s.inference.batch import auto_workers
from d2s.ops.bench_data import write_jpegs
from d2s.ops.bench_score import marginal_ratio, timed, timed_in_process
from d2s.registry import build

#: The demo checkpoint's size (workflow/config/demo.yaml: d2s-r18 scored at 48 px).
DEMO = dict(model="d2s-r18", size=48, jpeg=(1024, 768), n=256, batch=32, repeats=3)
TINY = dict(model="d2s-r18", size=32, jpeg=(96, 72), n=4, batch=2, repeats=1)


def setting_folders(tmp_path, setting):
    torch.manual_seed(0)
    model = build(setting["model"])
    checkpoint = tmp_path / "best.pt"
    payload = {"model_name": setting["model"], "model_kwargs": {}, "epoch": 1}
    payload |= {"state_dict": model.inference_state_dict(), "image_size": setting["size"]}
    save_checkpoint({**payload, "config": {"image_size": setting["size"]}}, checkpoint, "model")
    small, large = tmp_path / "small", tmp_path / "large"
    write_jpegs(small, setting["n"], setting["jpeg"])
    write_jpegs(large, 2 * setting["n"], setting["jpeg"])
    return small / "images", large / "images", checkpoint


def run(tmp_path, setting, runner=timed) -> dict:
    small, large, checkpoint = setting_folders(tmp_path, setting)
    workers = auto_workers(setting["n"], setting["batch"], "cpu")  # d2s score's default
    return marginal_ratio(
        small, large, checkpoint, setting["size"], workers, setting["batch"], setting["repeats"],
        runner,
    )  # fmt: skip


def test_tiny_score_vs_decode_body(tmp_path):
    result = run(tmp_path, TINY, timed_in_process)  # processes' start-up would dominate here
    assert result["images"] == [TINY["n"], 2 * TINY["n"]]
    assert set(result["runs_s"]) == {
        f"{k}-{n}" for k in ("score", "decode") for n in ("small", "large")
    }
    assert result["workers"] == auto_workers(TINY["n"], TINY["batch"], "cpu")


def test_benchmark_score_over_decode(benchmark, tmp_path):
    result = run(tmp_path, DEMO)
    benchmark.group = "d2s score vs decode+resize only (1024x768 JPEGs, 48 px, same workers)"
    benchmark.extra_info.update(result)
    benchmark.pedantic(lambda: None, rounds=1)
    assert result["score_over_decode"] <= 1.2, result
