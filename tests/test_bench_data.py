"""Data-path benchmarks at paper settings (issue 15), bodies run once tiny in the normal run.

``pytest --benchmark-only tests/test_bench_data.py`` writes its own IC9600-like JPEGs (1024×768,
quality 90) and reports, in ``extra_info``: decode vs cache images/s per worker at 512 px
(target: cache ≥ 5× decode), the main process's refresh time per step with 40 refreshed entries
(target ≤ 5 ms), and the D2S / vision-only step ratio at 512 px, batch 32, data included (target
≤ 1.6). These are the engine's own loader and step (d2s/ops/bench_data.py); the model-only step
ratio stays in tests/test_bench_training.py.
"""

import pandas as pd
import pytest
import torch

from d2s.ops.bench_data import (
    GPU_LIKE,
    bench_run,
    decode_and_cache_datasets,
    epoch_step_ms,
    images_per_second,
    marginal_epoch_ms_per_image,
    refresh_ms_per_step,
    write_jpegs,
)

PAPER = dict(jpeg=(1024, 768), count=64, size=512, batch=32, buffer=2048, refresh_steps=50)
TINY = dict(jpeg=(96, 72), count=12, size=32, batch=4, buffer=16, refresh_steps=4)


@pytest.fixture(scope="module")
def paper_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("paper-jpegs")
    write_jpegs(root, PAPER["count"], PAPER["jpeg"])
    return root


def data_path(root, setting):
    items = write_jpegs(root, setting["count"], setting["jpeg"])
    return decode_and_cache_datasets(items[: setting["batch"]], setting["size"], root / "cache")


def d2s_and_vision(root, setting, workers=0):
    keys = dict(buffer_size=setting["buffer"], refresh_steps=setting["refresh_steps"])
    return {
        kind: bench_run(root, kind, setting["size"], setting["batch"], num_workers=workers, **keys)
        for kind in ("d2s", "vision-only")
    }


# ---- the bodies, run once tiny in the normal test run --------------------------------------


def test_tiny_cache_path_is_faster_than_decoding(tmp_path):
    decode, cached = data_path(tmp_path, TINY)
    torch.manual_seed(1)
    want = decode[0][0]
    torch.manual_seed(1)
    assert torch.equal(cached[0][0], want)  # the same tensors, only faster
    assert images_per_second(cached) > 0 and images_per_second(decode) > 0


def test_tiny_refresh_comes_prefetched(tmp_path):
    write_jpegs(tmp_path, TINY["count"], TINY["jpeg"])
    run, task, _, _, split = d2s_and_vision(tmp_path, TINY)["d2s"]
    ms, refreshed = refresh_ms_per_step(run, task, split, steps=2)
    assert refreshed == TINY["buffer"] // TINY["refresh_steps"] and run.data.refresh_misses == 0
    assert ms >= 0


def test_tiny_end_to_end_steps_report_data_and_compute(tmp_path):
    write_jpegs(tmp_path, TINY["count"], TINY["jpeg"])
    for kind, parts in d2s_and_vision(tmp_path, TINY).items():
        timing = epoch_step_ms(*parts)
        assert timing["data_ms"] > 0 and timing["compute_ms"] > 0, kind
        assert timing["refresh_misses"] == 0


def test_tiny_marginal_epoch_cost_of_d2s_train(tmp_path):
    tiny = dict(GPU_LIKE, count=16, jpeg=(96, 72), batch=4, buffer=8)  # 12 train: full batches
    write_jpegs(tmp_path, tiny["count"], tiny["jpeg"])
    cost = marginal_epoch_ms_per_image(tmp_path, tiny, epochs=(1, 2), repeats=1)
    # the timings of tiny runs are noise; what is checked is which runs the helper made
    ratio = cost["d2s_ms_per_image"] / cost["vision-only_ms_per_image"]
    assert cost["d2s_over_vision_only"] == pytest.approx(ratio, abs=1e-3)
    for kind, eal_on in (("d2s", True), ("vision-only", False)):
        for epochs in (1, 2):
            log = pd.read_csv(
                tmp_path.parent / f"{tmp_path.name}-runs" / f"{kind}-{epochs}-0" / "log.csv"
            )
            assert len(log) == epochs, (kind, epochs)
            assert (log["eal"].iloc[-1] > 0) == eal_on, (kind, epochs)  # EAL on in D2S only


# ---- paper settings (pytest --benchmark-only) ---------------------------------------------


def test_benchmark_decode_vs_cache_per_worker(benchmark, tmp_path):
    decode, cached = data_path(tmp_path, PAPER)
    decode_rate = images_per_second(decode)
    cache_rate = images_per_second(cached, rounds=3)
    benchmark.group = "data path (512 px, IC9600-like JPEGs 1024x768 q90)"
    benchmark.extra_info.update(
        decode_images_per_s=round(decode_rate, 1),
        cache_images_per_s=round(cache_rate, 1),
        cache_over_decode=round(cache_rate / decode_rate, 2),
    )
    benchmark.pedantic(lambda: cached[0], rounds=20)


def test_benchmark_main_process_refresh_per_step(benchmark, paper_root):
    run, task, _, _, split = d2s_and_vision(paper_root, PAPER, workers=1)["d2s"]
    ms, refreshed = refresh_ms_per_step(run, task, split, steps=2)
    benchmark.group = "refresh (40 entries per step, 512 px)"
    benchmark.extra_info.update(main_process_refresh_ms=round(ms, 3), refreshed=refreshed)
    benchmark.pedantic(lambda: refresh_ms_per_step(run, task, split, steps=1), rounds=1)


def test_benchmark_end_to_end_step_ratio(benchmark, paper_root):
    runs = d2s_and_vision(paper_root, PAPER, workers=1)
    best: dict[str, dict] = {}
    for epoch in range(2):  # interleaved, so machine load affects both alike; the best epoch
        for kind in ("d2s", "vision-only"):
            timing = epoch_step_ms(*runs[kind], epoch=epoch)
            if kind not in best or timing["step_ms"] < best[kind]["step_ms"]:
                best[kind] = timing
    d2s, vision = best["d2s"], best["vision-only"]
    benchmark.group = "end-to-end training step (d2s-r18, 512 px, batch 32, data included)"
    benchmark.extra_info.update(d2s=d2s, vision_only=vision)
    # the momentum model's precision as it ran (auto: bf16 on a CPU with native bf16)
    benchmark.extra_info["momentum_precision"] = runs["d2s"][0].config.momentum_precision_resolved
    benchmark.extra_info["end_to_end_d2s_over_vision_only"] = round(
        d2s["step_ms"] / vision["step_ms"], 3
    )
    benchmark.pedantic(lambda: None, rounds=1)


def test_benchmark_gpu_like_regime_marginal_epoch_cost(benchmark, tmp_path):
    """Issue 15's GPU-like regime (targets: D2S at most 10 ms per training image and at most
    1.3x vision-only): whole ``d2s train`` runs, so data, refresh, selection and checkpoints
    all count; start-up cancels in the difference of 4 and 1 epochs."""
    write_jpegs(tmp_path, GPU_LIKE["count"], GPU_LIKE["jpeg"])
    cost = marginal_epoch_ms_per_image(tmp_path, GPU_LIKE)
    benchmark.group = "GPU-like regime: d2s train, 128 JPEGs 1024x768, 32 px, batch 32"
    benchmark.extra_info.update(cost)
    benchmark.pedantic(lambda: None, rounds=1)
