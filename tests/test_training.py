"""The training engine on a tiny demo set: every variant learns, resume is exact, protocols hold."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import pearsonr, spearmanr

from d2s.baselines.icnet import ICNET_RECIPE, icnet_lr_lambda
from d2s.checkpoint import CheckpointError, load_model, read_checkpoint
from d2s.cli import main
from d2s.core.outputs import OutputRefused
from d2s.data import load_items
from d2s.data.demo import make_demo
from d2s.registry.models import model_names, model_spec
from d2s.train.checks import ConfigError
from d2s.train.config_file import load_config
from d2s.train.data import image_transform
from d2s.train.engine import Run, train
from d2s.train.recipes import RECIPES, make_optimizer
from d2s.train.step import Placement, train_step
from d2s.train.tasks import make_task


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    make_demo(root, seed=0, size=32, image_size=32)
    return root


@pytest.fixture(scope="module")
def base(demo, tmp_path_factory):
    cache = tmp_path_factory.mktemp("text-cache")
    return dict(
        root=str(demo),
        captions=str(demo / "captions.tsv"),
        clip_weights="random",
        text_cache=str(cache),
        image_size=32,
        epochs=2,
        batch_size=8,
        eval_batch_size=16,
        buffer_size=8,
        refresh_steps=2,
        pretrained=False,
        device="cpu",
    )


VARIANTS = {
    "d2s-released": dict(model="d2s-r18", eal_mode="released"),
    "d2s-online": dict(model="d2s-r18", eal_mode="online"),
    "ablation-a-gap": dict(model="d2s-r18-gap", use_eal=False, use_fal=False),
    "ablation-b-attnpool": dict(model="d2s-r18", use_eal=False, use_fal=False),
    "ablation-c-eal": dict(model="d2s-r18", use_fal=False, eal_mode="online"),
    "ablation-d-fal": dict(model="d2s-r18", use_eal=False),
    "caption-only": dict(model="caption-only"),
    "concat": dict(model="concat-r18"),
    "icnet": dict(model="icnet", batch_size=8),
    "iccorn": dict(model="iccorn", batch_size=8),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_few_steps_lower_the_training_loss(variant, base):
    config = load_config(overrides={**base, **VARIANTS[variant]})
    run = Run(config, "unused", progress=False)
    items = load_items("ic9600", config.root, "train")[:8]
    split = run.data.split("train", items, config.needs_text)
    torch.manual_seed(0)
    task = make_task(config)
    optimizer, schedule = make_optimizer(config, task, steps_per_epoch=8)
    transform = image_transform(32, train=False)
    from d2s.data.torch_dataset import ImageDataset

    dataset = ImageDataset(items, transform)
    images = torch.stack([dataset[i][0] for i in range(8)])
    targets = torch.tensor([item.label for item in items])
    placement = Placement.of(config)
    batch = placement.batch(images, targets, torch.arange(8), split)
    task.train()
    losses = []
    for step in range(8):  # one epoch of 8 steps, as the engine steps it
        parts = train_step(task, batch, optimizer, placement)
        losses.append(parts["loss"].item())
        schedule.after_step(step)
        task.after_step(lambda ids: images[ids])
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0], losses


def test_outputs_are_labelled_and_predictions_match_metrics(base, tmp_path):
    out = tmp_path / "run"
    config = load_config(overrides={**base, "model": "d2s-r18", "seed": 826})
    metrics = json.loads(json.dumps(train(config, out, progress=False)))
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["model"] == "d2s-r18" and on_disk["dataset"] == "ic9600"
    assert on_disk["seed"] == 826 and on_disk["eal_mode"] == "released"
    assert on_disk["select"] == "test-plcc"
    predictions = pd.read_csv(out / "predictions.csv", keep_default_na=False)
    assert list(predictions.columns) == ["image", "target", "prediction", "category"]
    test_items = load_items("ic9600", base["root"], "test")
    assert predictions["image"].tolist() == [item.name for item in test_items]
    assert set(predictions["category"]) <= {item.category for item in test_items}
    p, t = predictions["prediction"].to_numpy(), predictions["target"].to_numpy()
    assert metrics["srcc"] == pytest.approx(spearmanr(p, t).statistic, abs=1e-6)
    assert metrics["plcc"] == pytest.approx(pearsonr(p, t).statistic, abs=1e-6)
    assert metrics["rmae"] == pytest.approx(np.sqrt(np.mean(np.abs(p - t))), abs=1e-6)
    # the selected epoch's checkpoint is the inference model: no projection inside
    model, data = load_model(out / "best.pt")
    assert model.proj is None and data["epoch"] == metrics["selected_epoch"]


def test_select_val_reads_the_test_set_only_at_the_end(base, tmp_path, monkeypatch):
    import d2s.train.engine as engine

    events = []
    real_load = engine.load_split_items
    real_log = Run._write_log

    def spy_load(config, split):
        events.append(("load", split))
        return real_load(config, split)

    def spy_log(self, history):
        events.append(("epoch", len(history)))
        return real_log(self, history)

    monkeypatch.setattr(engine, "load_split_items", spy_load)
    monkeypatch.setattr(Run, "_write_log", spy_log)
    config = load_config(
        overrides={**base, "model": "d2s-r18", "select": "val", "val_fraction": 0.25}
    )
    metrics = train(config, tmp_path / "val", progress=False)
    # the first load only hashes the test labels into the run's identity (a changed test set
    # must not pass as "run already complete"); predictions on it come after the last epoch
    assert events == [("load", "test"), ("epoch", 1), ("epoch", 2), ("load", "test")]
    assert metrics["select"] == "val"
    assert pd.read_csv(tmp_path / "val" / "log.csv")["sel_split"].unique().tolist() == ["val"]


def test_a_complete_run_is_not_trained_again(base, tmp_path, monkeypatch):
    config = load_config(
        overrides={**base, "model": "d2s-r18-gap", "use_eal": False, "use_fal": False}
    )
    first = train(config, tmp_path / "r", progress=False)

    def must_not_train(*args):
        raise AssertionError("trained again")

    monkeypatch.setattr(Run, "train_one_epoch", must_not_train)
    assert train(config, tmp_path / "r", progress=False)["srcc"] == first["srcc"]
    changed = load_config(
        overrides={**base, "model": "d2s-r18-gap", "use_eal": False, "use_fal": False, "lr": 0.01}
    )
    with pytest.raises(OutputRefused, match=r"changed: lr 0.001 -> 0.01.*--restart"):
        train(changed, tmp_path / "r", progress=False)


def test_evaluate_cross_dataset_writes_the_same_files(base, demo, tmp_path, capsys):
    out = tmp_path / "run"
    config = load_config(
        overrides={**base, "model": "d2s-r18", "use_eal": False, "use_fal": False, "epochs": 1}
    )
    train(config, out, progress=False)
    code = main(
        [
            "evaluate",
            str(out / "best.pt"),
            "--dataset",
            "visc-c",
            "--root",
            str(demo / "cross"),
            "--out",
            str(tmp_path / "cross"),
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    metrics = json.loads((tmp_path / "cross" / "metrics.json").read_text())
    table = pd.read_csv(tmp_path / "cross" / "predictions.csv")
    assert len(table) == len(load_items("visc-c", demo / "cross"))
    assert metrics["trained_on"] == "ic9600" and metrics["dataset"] == "visc-c"
    assert metrics["plcc"] == pytest.approx(
        pearsonr(table["prediction"], table["target"]).statistic, abs=1e-6
    )
    # a resume state is not a model checkpoint: clear error, exit 2
    assert (
        main(
            ["evaluate", str(out / "last.pt"), "--dataset", "visc-c", "--root", str(demo / "cross")]
        )
        == 2
    )
    assert "expected 'model'" in capsys.readouterr().err


def test_bad_checkpoints_give_clear_errors(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(
        CheckpointError,
        match="cannot load checkpoint: the file is truncated or corrupt|cannot load checkpoint: not a PyTorch",
    ):
        read_checkpoint(junk)
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a d2s-suite checkpoint"):
        read_checkpoint(tmp_path / "other.pt")
    from d2s.checkpoint import FORMAT, save_checkpoint

    torch.save({"format": FORMAT, "version": 99, "kind": "model"}, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="version 99"):
        read_checkpoint(tmp_path / "future.pt")
    from d2s.registry import build

    r50 = build("d2s-r50-gap")
    save_checkpoint(
        {"model_name": "d2s-r18", "model_kwargs": {}, "state_dict": r50.state_dict(), "config": {}},
        tmp_path / "mismatch.pt",
        kind="model",
    )
    with pytest.raises(CheckpointError, match="do not fit D2S"):
        load_model(tmp_path / "mismatch.pt")


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"epochz": 3}, "unknown config key 'epochz' \\(did you mean 'epochs'\\?\\)"),
        ({"epochs": "many"}, "'epochs': 'many' is not a valid int"),
        ({"eal_mode": "both"}, "'eal_mode': 'both' is not one of"),
        ({"momentum_precision": "fp8"}, "'momentum_precision': 'fp8' is not one of"),
        ({"select": "test"}, "'select'"),
        ({"model": "vit"}, "unknown model 'vit'"),
        ({"captions": None}, "needs 'captions'"),
        ({"root": ""}, "'root' is required"),
    ],
)
def test_config_errors_name_the_key(base, overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_config(overrides={**base, **overrides})


def test_config_file_presets_and_cli_errors(base, tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text("model: icnet\nroot: /data/ic9600\n")
    config = load_config(path, {"epochs": 5})
    assert (config.recipe, config.lr, config.batch_size, config.epochs) == ("icnet", 0.05, 64, 5)
    path.write_text("modle: d2s-r18\n")
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "x")]) == 2
    assert f"{path}: unknown config key 'modle'" in capsys.readouterr().err


def _cosine(epoch: int) -> float:
    return 0.1 * (1 + math.cos(math.pi * epoch / 3)) / 2  # lr 0.1 to min_lr 0 over 3 epochs


#: lr of each of 3 epochs × 4 steps: the d2s recipe's cosine steps after an epoch's last step,
#: ICNet's warm-up and decay after every step (its lambda of the iteration).
LR_STEPS = {
    "d2s": [_cosine(step // 4) for step in range(12)],
    "icnet": [0.1 * icnet_lr_lambda(ICNET_RECIPE, 4)(step) for step in range(12)],
}


@pytest.mark.parametrize("recipe", list(LR_STEPS))
def test_each_recipe_steps_its_lr_schedule_per_epoch_or_per_iteration(base, recipe):
    assert {model_spec(name).recipe for name in model_names()} <= set(RECIPES)
    keys = dict(model="d2s-r18-gap", use_eal=False, use_fal=False, recipe=recipe, epochs=3)
    config = load_config(overrides={**base, **keys, "lr": 0.1, "min_lr": 0.0})
    optimizer, schedule = make_optimizer(config, make_task(config), steps_per_epoch=4)
    seen = []
    for _epoch in range(3):
        for index in range(4):
            seen.append(optimizer.param_groups[0]["lr"])
            schedule.after_step(index)
    assert seen == pytest.approx(LR_STEPS[recipe])
