"""Training-step cost, model only: one D2S step (EAL + FAL + buffer refresh) against a vision-only
step, the images already decoded in memory (the data path, end to end, is in
tests/test_bench_data.py).

``pytest --benchmark-only`` times both at the paper's batch size (32) and reports the ratio in
``extra_info`` (target ≤ 1.6× on CPU: no text encoder runs during training, the momentum model
runs the vision branch only). The normal test run executes the same step bodies once, tiny.
"""

import time

import torch

from d2s.registry import build
from d2s.train.config import TrainConfig
from d2s.train.tasks import d2s_objective

PAPER = dict(batch=32, size=128, buffer=2048, refresh_steps=50)  # 40 refreshed entries per step
TINY = dict(batch=4, size=32, buffer=16, refresh_steps=4)


def make_step(kind: str, batch: int, size: int, buffer: int, refresh_steps: int):
    """A closure running one optimiser step of ``kind`` ('d2s' or 'vision-only')."""
    torch.manual_seed(0)
    aligned = kind == "d2s"
    model = build("d2s-r18", proj_dim=512 if aligned else None).train()
    # a run's objective (its momentum precision too), with the setting's buffer and refresh
    run = TrainConfig(
        use_eal=aligned, use_fal=aligned, buffer_size=buffer, refresh_steps=refresh_steps
    )
    objective = d2s_objective(model, run)
    pool = torch.randn(64, 3, size, size)  # stands in for the decoded training images
    if aligned:  # steady state: full buffers, so every step refreshes len // refresh_steps
        ids = torch.randint(0, 64, (buffer,))
        objective.alignment.visual.push(torch.rand(buffer) + 5, ids)
        objective.alignment.text.push(torch.rand(buffer) + 5, ids)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-3)
    ids = torch.arange(batch) % 64
    data = dict(
        images=pool[ids],
        targets=torch.rand(batch),
        text_features=torch.randn(batch, 512),
        text_entropy=torch.rand(batch) + 5,
        ids=ids,
    )

    def step() -> float:
        out = objective(model, **data)
        optimizer.zero_grad(set_to_none=True)
        out["loss"].backward()
        optimizer.step()
        objective.after_step(model, lambda refresh_ids: pool[refresh_ids])
        return float(out["loss"].detach())

    return step


def interleaved_ratio(a, b, rounds: int = 4) -> float:
    """min-time(a) / min-time(b), alternating the two so machine load affects both alike."""
    best_a = best_b = float("inf")
    a(), b()  # warm-up
    for _ in range(rounds):
        start = time.perf_counter()
        a()
        best_a = min(best_a, time.perf_counter() - start)
        start = time.perf_counter()
        b()
        best_b = min(best_b, time.perf_counter() - start)
    return best_a / best_b


def test_benchmark_d2s_training_step(benchmark):
    d2s, vision = make_step("d2s", **PAPER), make_step("vision-only", **PAPER)
    benchmark.group = "training step, model only (d2s-r18, batch 32, 128 px)"
    benchmark.extra_info["d2s_over_vision_only"] = round(interleaved_ratio(d2s, vision), 3)
    benchmark.extra_info["setting"] = PAPER
    benchmark.pedantic(d2s, rounds=3, warmup_rounds=1)


def test_benchmark_vision_only_training_step(benchmark):
    benchmark.group = "training step, model only (d2s-r18, batch 32, 128 px)"
    benchmark.pedantic(make_step("vision-only", **PAPER), rounds=3, warmup_rounds=1)


def test_training_step_bodies_run():
    """The benchmark bodies, once and tiny, so they cannot rot in the normal run."""
    d2s, vision = make_step("d2s", **TINY), make_step("vision-only", **TINY)
    assert torch.isfinite(torch.tensor([d2s(), vision()])).all()
    assert interleaved_ratio(d2s, vision, rounds=1) > 0
