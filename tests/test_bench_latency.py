"""Per-image inference latency: Table 1's Params / Latency columns and Fig. 3 (docs/design.md §4, §5).

``pytest --benchmark-only tests/test_bench_latency.py`` times every model of
:data:`d2s.ops.bench.LATENCY_SPECS` at batch 1 in eval mode under ``torch.inference_mode()``, at its
training resolution: D2S-R18/R50, ICNet, ICCORN at 512², HyperIQA at 224² with ``num_crop=1``
(one pass per image; pyiqa's eval default averages 25 crops), TOPIQ at 384², and the bare timm
backbones D2S uses (``features_only``, last stage) at 512² as the floor. ICNet and ICCORN are
timed with ``forward_maps`` (score and map, as the authors' forward returns both); the
``icnet-score`` row times the score-only forward. On CUDA every call is synchronised before and
after; otherwise the CPU is used with torch's current thread count. Warm-up rounds precede the
timed rounds. ``extra_info`` records model, params, input size, device, threads and torch
version; D2S rows also record their overhead over the bare backbone, measured with interleaved
calls of the same model's trunk (robust to load from other processes), and the time of the
pooling and head alone; the D2S-R18 row also records its latency over ICNet's from interleaved
calls (``over_icnet_paired``). ``d2s bench table`` turns the JSON into the table.

Rounds: CUDA 50 (+10 warm-up), CPU 5 (+1 warm-up); override with ``D2S_BENCH_ROUNDS``,
``D2S_BENCH_WARMUP``, ``D2S_BENCH_PAIRS``; force a device with ``D2S_BENCH_DEVICE``; set torch's
CPU threads with ``D2S_BENCH_THREADS`` (default: the test session's, at most 2 — conftest.py).

The normal run (``--benchmark-skip``) executes every benchmark body once at 64² (HyperIQA at its
fixed 224²) so it cannot rot.
"""

from __future__ import annotations

import os
import statistics
import time

import pytest
import torch

from d2s.ops.bench import LATENCY_SPECS, build_latency_model, runtime_info

DEVICE = torch.device(
    os.environ.get("D2S_BENCH_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
)
CUDA = DEVICE.type == "cuda"
ROUNDS = int(os.environ.get("D2S_BENCH_ROUNDS", 50 if CUDA else 5))
WARMUP = int(os.environ.get("D2S_BENCH_WARMUP", 10 if CUDA else 1))
PAIRS = int(os.environ.get("D2S_BENCH_PAIRS", 20 if CUDA else 4))
GROUP = f"latency per image: batch 1, eval, training resolution ({DEVICE.type})"
TINY = 64


def make_call(fn, x: torch.Tensor):
    """A no-argument callable running ``fn(x)`` in inference mode, CUDA-synchronised around."""
    cuda = x.device.type == "cuda"

    def call():
        if cuda:
            torch.cuda.synchronize(x.device)
        with torch.inference_mode():
            out = fn(x)
        if cuda:
            torch.cuda.synchronize(x.device)
        return out

    return call


def seconds(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def d2s_breakdown(model, x: torch.Tensor, pairs: int, repeats: int) -> dict:
    """D2S cost over its own trunk: interleaved full/trunk calls and the pooling + head alone.

    ``overhead_over_backbone_paired`` is the median over ``pairs`` of t(full) / t(trunk) − 1,
    each pair timed back to back so that load from other processes hits both alike;
    ``overhead_from_parts`` the median of t(pool + head) / t(trunk), timed the same way.
    """
    full = make_call(model.module, x)
    trunk = make_call(model.module.forward_features, x)
    overhead = paired_ratio(full, trunk, pairs) - 1.0
    with torch.inference_mode():
        features = model.module.forward_features(x)
    pool = make_call(model.module.pool, features)
    head = make_call(model.module.forward_head, features)
    pool(), head()
    pool_s = statistics.median(seconds(pool) for _ in range(repeats))
    head_s = statistics.median(seconds(head) for _ in range(repeats))
    # The model is exactly trunk + (pool + head): their interleaved ratio resolves a few percent
    # where t(full) / t(trunk) drowns in the noise of the (much longer) trunk.
    parts = paired_ratio(head, trunk, pairs)
    return {
        "overhead_over_backbone_paired": overhead,
        "overhead_from_parts": parts,
        "overhead_pairs": pairs,
        "pool_ms": pool_s * 1000,
        "pool_and_head_ms": head_s * 1000,
        "feature_map": list(features.shape[1:]),
    }


def paired_ratio(a, b, pairs: int) -> float:
    """Median over ``pairs`` of t(a) / t(b), each pair timed back to back (after one warm-up)."""
    a(), b()
    return statistics.median(seconds(a) / seconds(b) for _ in range(pairs))


#: Rows also timed against a reference in interleaved pairs: robust to load on a shared machine.
PAIRED_REFERENCE = {"d2s-r18": "icnet"}


def prepare(name: str, size: int | None = None, pairs: int = PAIRS, repeats: int = 20):
    """Build ``name`` on DEVICE; return its timed call and the ``extra_info`` to record."""
    model = build_latency_model(name, DEVICE)
    spec = model.spec
    side = spec.input_size if size is None or spec.fixed_size else size
    x = torch.randn(1, 3, side, side, device=DEVICE)
    info = {
        "kind": "latency",
        "model": name,
        "params": model.params,
        "input_size": f"{side}x{side}",
        "batch": 1,
        **runtime_info(DEVICE),
        "forward": spec.forward if spec.build else "features_only[-1]",
        "backbone": spec.backbone,
        "note": spec.note,
    }
    if spec.backbone:
        info.update(d2s_breakdown(model, x, pairs, repeats))
    call = make_call(model.call, x)
    if name in PAIRED_REFERENCE:
        ref = build_latency_model(PAIRED_REFERENCE[name], DEVICE)
        ref_side = ref.spec.input_size if size is None or ref.spec.fixed_size else size
        ref_call = make_call(ref.call, torch.randn(1, 3, ref_side, ref_side, device=DEVICE))
        info[f"over_{ref.spec.name}_paired"] = paired_ratio(call, ref_call, pairs)
        del ref, ref_call
    return call, info


@pytest.fixture
def bench_threads():
    """``D2S_BENCH_THREADS`` torch threads for a benchmark (default: as the session set them)."""
    before = torch.get_num_threads()
    wanted = os.environ.get("D2S_BENCH_THREADS")
    if wanted:
        torch.set_num_threads(int(wanted))
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("bench_threads")
@pytest.mark.parametrize("name", list(LATENCY_SPECS))
def test_latency(benchmark, name):
    call, info = prepare(name)
    benchmark.group = GROUP
    benchmark.extra_info.update(info)
    benchmark.extra_info["rounds"], benchmark.extra_info["warmup_rounds"] = ROUNDS, WARMUP
    benchmark.pedantic(call, rounds=ROUNDS, warmup_rounds=WARMUP, iterations=1)


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("name", list(LATENCY_SPECS))
def test_latency_body_runs(name):
    """The benchmark body once, tiny, so it cannot rot in the normal (benchmark-skipped) run."""
    call, info = prepare(name, size=TINY, pairs=1, repeats=1)
    out = call()
    score = out[0] if isinstance(out, tuple) else out
    assert torch.isfinite(score.float()).all()
    assert info["params"] > 0 and info["threads"] >= 1 and info["torch"] == torch.__version__
    if LATENCY_SPECS[name].backbone:
        assert info["pool_ms"] > 0 and info["pool_and_head_ms"] > 0
        assert info["overhead_over_backbone_paired"] > -1.0 and info["overhead_from_parts"] > 0
