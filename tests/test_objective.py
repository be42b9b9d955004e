"""The per-batch D2S objective: Eq. 11 composition, EAL modes and the ablation switches."""

import inspect

import pytest
import torch
import torch.nn.functional as F

from d2s.method.losses import info_nce
from d2s.method.objective import D2SObjective
from d2s.registry import build
from d2s.train.config import TrainConfig
from d2s.train.tasks import d2s_objective

#: The paper's settings (Eq. 11 and Table 1's caption: λ = 5, γ = 0.01, M = 2048, refresh step
#: 50, momentum 0.995; τ = 0.07), the released EAL, both alignment terms on.
PAPER = dict(
    use_eal=True,
    use_fal=True,
    eal_mode="released",
    eal_weight=5.0,
    fal_weight=0.01,
    temperature=0.07,
    buffer_size=2048,
    momentum=0.995,
    refresh_steps=50,
)


def test_the_defaults_are_the_papers_and_a_runs_keys_reach_the_objective():
    defaults = inspect.signature(D2SObjective).parameters
    for key, value in PAPER.items():
        assert defaults[key].default == value, key
        assert getattr(TrainConfig, key) == value, key  # a run's keys default to the same
    changed = dict(eal_weight=1.5, fal_weight=0.5, temperature=0.1, eal_mode="online")
    objective = d2s_objective(build("d2s-r18", proj_dim=512), TrainConfig(**changed))
    assert (objective.eal_weight, objective.fal_weight) == (1.5, 0.5)
    assert (objective.temperature, objective.eal_mode) == (0.1, "online")


def _batch(step, batch=4):
    gen = torch.Generator().manual_seed(step)
    return dict(
        images=torch.randn(batch, 3, 32, 32, generator=gen),
        targets=torch.rand(batch, generator=gen),
        text_features=torch.randn(batch, 512, generator=gen),
        text_entropy=torch.rand(batch, generator=gen) + 5.5,
        ids=torch.arange(step * batch, (step + 1) * batch),
    )


def _grads(model):
    return [p.grad.clone() if p.grad is not None else None for p in model.parameters()]


@pytest.mark.parametrize("eal_mode", ["released", "online"])
def test_total_is_eq11_and_released_eal_adds_no_gradient(eal_mode):
    torch.manual_seed(0)
    model = build("d2s-r18", proj_dim=512).eval()  # eval: identical forwards for the comparison
    objective = D2SObjective(model, eal_mode=eal_mode, buffer_size=8, refresh_steps=4)
    for step in range(2):
        out = objective(model, **_batch(step))
    assert out["eal"].item() > 0
    assert out["loss"].item() == pytest.approx(
        (out["mse"] + 5 * out["eal"] + 0.01 * out["fal"]).item(), rel=1e-6
    )
    model.zero_grad()
    out["loss"].backward()
    full = _grads(model)

    batch = _batch(1)
    model.zero_grad()
    score, projected = model.forward_train(batch["images"])
    without_eal = F.mse_loss(score, batch["targets"]) + 0.01 * info_nce(
        projected, batch["text_features"], 0.07
    )
    without_eal.backward()
    same = all(torch.allclose(a, b, atol=1e-7) for a, b in zip(full, _grads(model), strict=True))
    assert same == (eal_mode == "released")


def test_vision_only_case_a_is_plain_mse():
    model = build("d2s-r18-gap").eval()
    objective = D2SObjective(model, use_eal=False, use_fal=False)
    batch = _batch(0)
    out = objective(model, batch["images"], batch["targets"])
    assert out["loss"].item() == pytest.approx(
        F.mse_loss(model(batch["images"]), batch["targets"]).item()
    )
    assert out["eal"].item() == 0 and out["fal"].item() == 0
    assert objective.alignment is None and objective.after_step(model, None) == 0


def test_fal_only_and_custom_weights():
    model = build("d2s-r18", proj_dim=512).eval()
    objective = D2SObjective(model, use_eal=False, eal_weight=0.0, fal_weight=2.0)
    batch = _batch(0)
    out = objective(model, **batch)
    with torch.no_grad():
        score, projected = model.forward_train(batch["images"])
    expected = F.mse_loss(score, batch["targets"]) + 2.0 * info_nce(
        projected, batch["text_features"], 0.07
    )
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_a_training_step_with_refresh_runs_and_moves_the_momentum_model():
    torch.manual_seed(0)
    model = build("d2s-r18", proj_dim=512)
    objective = D2SObjective(model, eal_mode="online", buffer_size=8, refresh_steps=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-3)
    store = torch.randn(16, 3, 64, 64)  # 2x2 maps: with 1x1 the attention has nothing to weigh
    mom_before = [p.clone() for p in objective.alignment.momentum_model.parameters()]
    refreshed = 0
    for step in range(3):
        batch = _batch(step)
        batch["images"] = store[batch["ids"]]
        out = objective(model, **batch)
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
        refreshed += objective.after_step(model, lambda ids: store[ids])
    assert refreshed == 2 + 4 + 4  # len // 2 after 4, 8, 8 entries
    moved = [
        not torch.equal(a, b)
        for a, b in zip(objective.alignment.momentum_model.parameters(), mom_before, strict=True)
    ]
    assert all(moved)
