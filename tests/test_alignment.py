"""EAL machinery: FIFO buffers, momentum model, both EAL modes, refresh (D2S Algorithm 1)."""

import pytest
import torch

import d2s.method.alignment
from d2s.method.alignment import (
    EntropyAlignment,
    EntropyBuffer,
    MomentumModel,
    momentum_dtype,
    resolve_momentum_precision,
)
from d2s.method.losses import energy_distance, entropy
from d2s.registry import build
from d2s.train.config import TrainConfig

PAPER = TrainConfig()  # the paper's momentum, refresh period and EAL mode


def alignment(model, capacity, **changes):
    """EntropyAlignment with the paper's settings except ``changes``."""
    settings = dict(
        momentum=PAPER.momentum, refresh_steps=PAPER.refresh_steps, eal_mode=PAPER.eal_mode
    )
    return EntropyAlignment(model, capacity, **{**settings, **changes})


def test_buffer_is_fifo_with_capacity_and_oldest_first_order():
    buf = EntropyBuffer(5)
    buf.push(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([10, 20, 30]))
    assert len(buf) == 3 and buf.ordered().tolist() == [1, 2, 3]
    assert buf.is_ready()  # 3 >= 5 // 2
    buf.push(torch.tensor([4.0, 5.0, 6.0, 7.0]), torch.tensor([40, 50, 60, 70]))
    assert len(buf) == 5
    assert buf.ordered().tolist() == [3, 4, 5, 6, 7]  # 1 and 2 evicted, oldest first
    assert buf.ordered_ids().tolist() == [30, 40, 50, 60, 70]
    buf.push(torch.arange(8.0), torch.arange(8))  # more than fits: only the newest survive
    assert buf.ordered().tolist() == [3, 4, 5, 6, 7]
    assert buf.ordered_ids().tolist() == [3, 4, 5, 6, 7]


def test_buffer_ready_from_half_capacity():
    buf = EntropyBuffer(8)
    buf.push(torch.ones(3), torch.arange(3))
    assert not buf.is_ready()
    buf.push(torch.ones(1), torch.arange(1))
    assert buf.is_ready()


def test_refresh_cycles_through_every_slot():
    buf = EntropyBuffer(8)
    buf.push(torch.arange(8.0), torch.arange(8))
    seen = [buf.next_refresh_slots(4).tolist() for _ in range(5)]
    assert seen == [[0, 1], [2, 3], [4, 5], [6, 7], [0, 1]]  # len // 4 = 2 per call

    partial = EntropyBuffer(8)
    partial.push(torch.arange(5.0), torch.arange(5))
    assert partial.next_refresh_slots(2).tolist() == [0, 1]
    assert partial.next_refresh_slots(2).tolist() == [2, 3]
    assert partial.next_refresh_slots(2).tolist() == [4, 0]  # wraps over the filled part
    assert partial.next_refresh_slots(10).tolist() == []  # 5 // 10 = 0


def test_paper_refresh_count_is_40_when_full():
    buf = EntropyBuffer(2048)
    buf.push(torch.rand(2048), torch.arange(2048))
    assert buf.next_refresh_slots(50).numel() == 40


def test_buffer_state_survives_state_dict_round_trip():
    buf = EntropyBuffer(4)
    buf.push(torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]), torch.arange(5))
    buf.next_refresh_slots(2)
    restored = EntropyBuffer(4)
    restored.load_state_dict(buf.state_dict())
    assert restored.ordered().tolist() == buf.ordered().tolist() == [2, 3, 4, 5]
    assert restored.next_refresh_slots(2).tolist() == buf.next_refresh_slots(2).tolist()


@pytest.fixture
def model():
    torch.manual_seed(0)
    return build("d2s-r18", proj_dim=512)


def test_momentum_model_ema_over_parameters_only(model):
    mom = MomentumModel(model, momentum=0.9)
    before_params = [p.clone() for p in mom.module.parameters()]
    before_buffers = {k: v.clone() for k, v in mom.module.named_buffers()}
    # train the online model a little: changes its parameters and its BN running stats
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    model(torch.randn(4, 3, 32, 32)).sum().backward()
    opt.step()
    mom.update(model)
    for ema, old, new in zip(
        mom.module.parameters(), before_params, model.parameters(), strict=True
    ):
        assert torch.allclose(ema, 0.9 * old + 0.1 * new.detach(), atol=1e-7)
    for name, value in mom.module.named_buffers():
        assert torch.equal(value, before_buffers[name]), name  # BN stats never updated
    assert any(
        not torch.equal(v, before_buffers[k]) for k, v in model.named_buffers() if "running" in k
    )


def test_momentum_model_is_frozen_and_stays_in_eval(model):
    mom = MomentumModel(model, PAPER.momentum)
    mom.train()
    assert not mom.training and not any(m.training for m in mom.modules())
    assert not any(p.requires_grad for p in mom.parameters())
    with pytest.raises(ValueError):
        MomentumModel(model, momentum=1.5)


def _fill(align, model, batches=3, batch=4):
    """Run ``observe`` on a few batches; returns the images of the last one."""
    gen = torch.Generator().manual_seed(5)
    for step in range(batches):
        images = torch.randn(batch, 3, 32, 32, generator=gen)
        ids = torch.arange(step * batch, (step + 1) * batch)
        align.observe(images, ids, torch.rand(batch, generator=gen) + 5)
    return images


def test_eal_is_zero_until_half_full(model):
    align = alignment(model, capacity=16, refresh_steps=4)
    _fill(align, model, batches=1)
    assert align.loss().item() == 0.0
    _fill(align, model, batches=2)
    assert align.loss().item() > 0


def test_released_mode_carries_no_gradient(model):
    align = alignment(model, capacity=16, eal_mode="released")
    images = _fill(align, model)
    _, projected = model.forward_train(images)
    eal = align.loss(entropy(projected))
    assert not eal.requires_grad
    assert eal.item() == pytest.approx(
        energy_distance(align.visual.ordered(), align.text.ordered()).item()
    )


def test_paper_mode_is_differentiable_and_uses_online_entropies(model):
    align = alignment(model, capacity=16, eal_mode="online")
    images = _fill(align, model)
    model.eval()
    _, projected = model.forward_train(images)
    online = entropy(projected)
    eal = align.loss(online)
    assert eal.requires_grad
    # brute force: the batch's momentum entries (the newest 4) replaced by the online values
    visual = torch.cat([align.visual.ordered()[:-4], online.detach()])
    assert eal.item() == pytest.approx(
        energy_distance(visual, align.text.ordered()).item(), rel=1e-6
    )
    eal.backward()
    assert model.proj.weight.grad is not None and model.proj.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in align.momentum_model.parameters())
    with pytest.raises(ValueError, match="online"):
        align.loss(None)


def test_after_step_updates_mom_then_refreshes_old_entries(model):
    align = alignment(model, capacity=8, momentum=0.5, refresh_steps=4)
    store = {
        i: torch.randn(3, 32, 32, generator=torch.Generator().manual_seed(i)) for i in range(12)
    }
    for start in (0, 4):
        ids = torch.arange(start, start + 4)
        align.observe(torch.stack([store[int(i)] for i in ids]), ids, torch.ones(4))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05)
    requested = []

    def fetch(ids):
        requested.append(ids.tolist())
        return torch.stack([store[int(i)] for i in ids])

    before = align.visual.ordered().clone()
    assert align.after_step(model, fetch) == 2  # 8 // 4
    assert requested == [[0, 1]]
    expected = align.momentum_model.visual_entropy(torch.stack([store[0], store[1]]))
    assert torch.allclose(align.visual.values[:2], expected)
    assert torch.equal(align.visual.values[2:], before[2:])
    assert align.after_step(model, fetch) == 2
    assert requested[-1] == [2, 3]


def test_unknown_eal_mode_is_rejected(model):
    with pytest.raises(ValueError, match="eal_mode"):
        alignment(model, PAPER.buffer_size, eal_mode="both")


@pytest.mark.parametrize("native_bf16", [True, False])
def test_auto_momentum_precision_is_released_fp16_on_cuda_and_native_bf16_on_cpu(
    monkeypatch, native_bf16
):
    monkeypatch.setattr(d2s.method.alignment, "cpu_has_native_bf16", lambda: native_bf16)
    assert resolve_momentum_precision("auto", torch.device("cuda")) == "fp16"
    assert resolve_momentum_precision("auto", torch.device("cpu")) == (
        "bf16" if native_bf16 else "fp32"
    )
    for explicit in ("fp16", "bf16", "fp32"):
        assert resolve_momentum_precision(explicit, torch.device("cpu")) == explicit
    assert momentum_dtype("fp32") is None and momentum_dtype("bf16") is torch.bfloat16


def test_momentum_precision_sets_the_mom_forward_only(model):
    images = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    exact = MomentumModel(model, PAPER.momentum)  # fp32
    half = MomentumModel(model, PAPER.momentum, torch.bfloat16)
    reference = exact.visual_entropy(images)
    lowered = half.visual_entropy(images)
    assert lowered.dtype == reference.dtype == torch.float32
    assert not torch.equal(lowered, reference)  # it did run in bf16
    assert torch.allclose(lowered, reference, rtol=1e-2)
    assert all(p.dtype == torch.float32 for p in half.parameters())  # weights and EMA stay fp32
    # fp32 means fp32 even inside a bf16 training forward
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(exact.visual_entropy(images), reference)


def test_released_eal_weights_do_not_depend_on_momentum_precision():
    """Under eal_mode released the EAL term carries no gradient, so the MoM's precision changes
    the logged EAL value but not one weight of the online model."""
    from d2s.train.tasks import d2s_objective

    logged, weights = {}, {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        online = build("d2s-r18", proj_dim=512)
        config = TrainConfig(buffer_size=8, refresh_steps=4, momentum_precision=precision)
        objective = d2s_objective(online, config)
        optimizer = torch.optim.AdamW(online.parameters(), lr=1e-3)
        gen = torch.Generator().manual_seed(1)
        store = torch.randn(16, 3, 32, 32, generator=gen)
        for step in range(4):
            ids = torch.arange(4 * step, 4 * step + 4)
            parts = objective(
                online,
                store[ids],
                torch.rand(4, generator=gen),
                torch.randn(4, 512, generator=gen),
                torch.rand(4, generator=gen) + 5,
                ids,
            )
            optimizer.zero_grad()
            parts["loss"].backward()
            optimizer.step()
            objective.after_step(online, store.__getitem__)
        logged[precision] = parts["eal"].item()
        weights[precision] = [p.detach().clone() for p in online.parameters()]
    assert logged["fp32"] > 0 and logged["fp32"] != logged["bf16"]
    assert all(map(torch.equal, weights["fp32"], weights["bf16"]))
