"""Runs that fit the card (d2s/train/memory.py): gradient checkpointing is the same maths, the
step is sized before the first step (fake device memory), and the device cache comes after it."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace

import pytest
import torch

from d2s.cli import main
from d2s.data.demo import make_demo
from d2s.train import memory
from d2s.train.config_file import load_config
from d2s.train.memory import StepDoesNotFit, fit_step, set_grad_checkpointing
from d2s.train.step import Placement
from d2s.train.tasks import make_task

GIB = 2**30


def _config(model: str, **keys):
    return load_config(
        overrides={
            "root": "unused",
            "model": model,
            "pretrained": False,
            "device": "cpu",
            "captions": "unused.tsv",
            **keys,
        }
    )


def _step(task, batch):
    loss = task.loss(batch)["loss"]
    loss.backward()
    grads = {n: p.grad.clone() for n, p in task.named_parameters() if p.grad is not None}
    return loss.detach(), grads


@pytest.mark.parametrize("model", ["d2s-r18", "d2s-r50", "concat-r18"])
def test_checkpointing_gives_the_same_loss_gradients_and_batchnorm_statistics(model):
    torch.manual_seed(0)
    config = _config(model, image_size=64, use_eal=False)
    plain = make_task(config).train()
    checkpointed = copy.deepcopy(plain)
    assert set_grad_checkpointing(checkpointed.model)
    batch = memory.synthetic_batch(4, 64, Placement.of(config))
    loss, grads = _step(plain, batch)
    loss_c, grads_c = _step(checkpointed, batch)
    torch.testing.assert_close(loss_c, loss, rtol=1e-5, atol=1e-6)
    assert grads.keys() == grads_c.keys() and len(grads) > 10
    for name, grad in grads.items():
        torch.testing.assert_close(grads_c[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    buffers = dict(plain.named_buffers())
    for name, value in checkpointed.named_buffers():  # BatchNorm stats updated once, not twice
        torch.testing.assert_close(value, buffers[name], msg=name)


def _fake_cuda(monkeypatch, free: float, need_plain: float, need_checkpointed: float):
    """A GPU with ``free`` GiB; the step needs the given GiB at batch 32 (no CUDA used)."""

    def step_memory(task, config, placement):
        on = any(getattr(m, "grad_checkpointing", False) for m in task.model.modules())
        need = (need_checkpointed if on else need_plain) * GIB
        return {"per_image": int(need * 0.9 / 32), "fixed": int(need * 0.1), "need": int(need)}

    monkeypatch.setattr(memory, "step_memory", step_memory)
    monkeypatch.setattr(memory, "free_bytes", lambda device: int(free * GIB))
    return SimpleNamespace(cuda=True, device="cuda:0")


def test_a_step_that_fits_runs_as_is(monkeypatch):
    task = make_task(_config("d2s-r50"))
    record = fit_step(
        task, task_config := _config("d2s-r50"), _fake_cuda(monkeypatch, 40, 18, 6), "run"
    )
    assert record["grad_checkpointing"] is False and record["step_bytes"] == 18 * GIB
    assert task_config.batch_size == 32


def test_a_step_too_big_turns_on_checkpointing_and_says_so(monkeypatch):
    config = _config("d2s-r50")
    task = make_task(config)
    record = fit_step(task, config, _fake_cuda(monkeypatch, 16, 18, 6), "run")
    assert record["grad_checkpointing"] is True and record["step_bytes_plain"] == 18 * GIB
    assert all(m.grad_checkpointing for m in memory.checkpointable(task.model))


def test_a_step_that_cannot_fit_stops_naming_model_batch_memory_and_options(monkeypatch):
    config = _config("d2s-r50")
    with pytest.raises(StepDoesNotFit) as err:
        fit_step(make_task(config), config, _fake_cuda(monkeypatch, 4, 18, 6), "runs/x")
    text = str(err.value)
    for words in ("runs/x", "d2s-r50", "batch 32", "512 px", "6.0 GiB", "4.0 GiB is free"):
        assert words in text, text
    assert "batch_size=" in text and "precision=bf16" in text and "more memory" in text


def test_a_baseline_without_a_timm_backbone_stops_rather_than_checkpoint(monkeypatch):
    config = _config("icnet")
    with pytest.raises(StepDoesNotFit, match="grad checkpointing off"):
        fit_step(make_task(config), config, _fake_cuda(monkeypatch, 8, 16, 16), "run")


def test_the_device_cache_is_admitted_after_the_step_is_counted(monkeypatch):
    from d2s.train.loading import resident_on_device

    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (24 * GIB, 80 * GIB))
    assert resident_on_device("auto", 6 * GIB, cuda)  # 24 GiB free, nothing counted
    assert not resident_on_device("auto", 6 * GIB, cuda, reserve=18 * GIB)  # D2S-R50's step


def test_d2s_train_records_checkpointing_in_metrics(tmp_path):
    root = tmp_path / "demo"
    make_demo(root, seed=0, size=32, image_size=32)
    out = tmp_path / "run"
    argv = ["train", "--out", str(out), "--no-progress", f"root={root}", "model=d2s-r18"]
    argv += ["use_eal=false", "use_fal=false", "pretrained=false", "device=cpu", "epochs=1"]
    argv += ["image_size=32", "batch_size=8", "grad_checkpointing=always", "threads=1"]
    assert main(argv) == 0
    assert json.loads((out / "metrics.json").read_text())["memory"]["grad_checkpointing"] is True
