"""``d2s train``: train one model on one split; resumable, deterministic on CPU for a seed.

Outputs in the run folder (``metrics.json`` is written last, so its presence means "complete"):
``last.pt`` (resume state, each epoch), ``best.pt`` (the selected model), ``log.csv`` (per epoch:
losses split into MSE / EAL / FAL, lr, selection metrics), ``predictions.csv`` and
``metrics.json`` (test metrics plus model, dataset, seed, ``eal_mode`` and ``select`` protocol).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from d2s.checkpoint import CheckpointError, load_weights, read_checkpoint, save_checkpoint
from d2s.core.io import atomic_write_text
from d2s.data.validate import check_decodable
from d2s.method.metrics import MetricError
from d2s.train.config import TrainConfig
from d2s.train.controls import apply_caption_control
from d2s.train.data import (
    Split,
    attach_text,
    check_splits,
    load_split_items,
    open_split_cache,
    read_captions,
    train_and_selection_items,
)
from d2s.train.evaluation import predict, write_outputs
from d2s.train.loading import DataPath, epoch_seed
from d2s.train.memory import fit_step
from d2s.train.provenance import loaded_record
from d2s.train.run_folder import RunFolder, config_reads, run_inputs, same_run
from d2s.train.step import Placement, TrainingDiverged, refuse_silent_cpu, train_step
from d2s.train.tasks import Task, make_task

#: The metrics :func:`d2s.method.metrics.evaluate` returns (NaN for an epoch whose predictions collapsed).
METRIC_NAMES = ("srcc", "plcc", "rmse", "rmae")


def make_optimizer(config: TrainConfig, task: Task, steps_per_epoch: int):
    """``(optimizer, scheduler, step_per_iteration)`` for the run's recipe."""
    params = [p for p in task.model.parameters() if p.requires_grad]
    if config.recipe == "icnet":
        from d2s.baselines.icnet import ICNetRecipe, icnet_lr_lambda

        recipe = ICNetRecipe()
        optimizer = torch.optim.SGD(
            params, lr=config.lr, momentum=recipe.momentum, weight_decay=config.weight_decay
        )
        lr_lambda = icnet_lr_lambda(recipe, steps_per_epoch)
        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda), True
    # D2S (docs/design.md §1): AdamW, one lr for all, cosine annealing per epoch down to min_lr.
    # foreach: the multi-tensor update, torch's default on CUDA, on every device (on CPU torch
    # would loop per tensor, about 2x slower per step for the same update rule)
    optimizer = torch.optim.AdamW(
        params, lr=config.lr, weight_decay=config.weight_decay, foreach=True
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=config.epochs, eta_min=config.min_lr
    )
    return optimizer, scheduler, False


def format_terms(sums: dict[str, float]) -> str:
    """``loss 0.1234 (mse 0.1, eal 0.0)``: whatever terms the task's loss returned, in its order."""
    parts = ", ".join(f"{key} {value:.4f}" for key, value in sums.items() if key != "loss")
    return f"loss {sums['loss']:.4f}" + (f" ({parts})" if parts else "")


class Run(DataPath):
    """A training run bound to its output folder."""

    def __init__(
        self, config: TrainConfig, out: str | Path, progress: bool = True, restart: bool = False
    ) -> None:
        self.config = config
        self.out = Path(out)
        self.progress = progress
        self.restart = restart
        self.placement = Placement.of(config)
        self.device = self.placement.device
        self.cuda = self.placement.cuda
        use_captions = config.captions and not config.text_features
        self.captions = read_captions(config.captions) if use_captions else None

    # data -----------------------------------------------------------------------------------
    def _split(self, name: str, items, with_text: bool) -> Split:
        split = Split(name, list(items))
        if with_text:
            attach_text(split, self.captions, self.config)
        return split

    # training ---------------------------------------------------------------------------------
    def train(self) -> dict:
        cfg = self.config
        refuse_silent_cpu(cfg.device, cfg.run_label)
        folder = RunFolder(self.out, config_reads(cfg))  # refused at once if not ours
        train_items, selection_items = train_and_selection_items(cfg)
        check_splits(cfg, train_items, selection_items)
        test_items = load_split_items(cfg, cfg.test_split)
        splits = {
            cfg.train_split: train_items,
            cfg.val_split or "val": selection_items,
            cfg.test_split: test_items,
        }
        self.inputs = run_inputs(cfg, splits)
        # created, locked and matched to the inputs only once the splits passed their checks
        finished = folder.claim(self.inputs, self.restart)
        if finished is not None:
            print(f"{self.out / 'metrics.json'}: run already complete")
            return finished
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        if self.device.type == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
        if self.cuda:
            # As the released code: cudnn deterministic, no autotuning (a key trades it for speed);
            # TF32 matmuls/convolutions are allowed under fp32.
            torch.backends.cudnn.deterministic = cfg.cudnn_deterministic
            torch.backends.cudnn.benchmark = not cfg.cudnn_deterministic
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True

        test_paths = test_items if selection_items is None else []
        # Every image must decode before any work is spent (a bad file is named). Building an
        # image cache decodes them all, and a current one was built from these very files
        # (d2s/data/cache.py), so only the per-image path checks here. Test images are decoded,
        # not scored: under select: val their labels stay unread until the end.
        self._open_caches(selection_items, test_paths)
        if not self.caches:
            check_decodable(
                [*train_items, *(selection_items or []), *test_paths],
                progress=self.progress,
                desc="check images",
            )
        train = self._split("train", train_items, cfg.needs_text)
        apply_caption_control(train, cfg.caption_control, cfg.seed)
        if selection_items is not None:
            selection = self._split("val", selection_items, cfg.text_at_test)
        else:  # select: test-plcc — the released protocol picks the epoch on the test set
            selection = self._split("test", test_paths, cfg.text_at_test)

        torch.manual_seed(cfg.seed)
        task = make_task(cfg)
        task.init_from_labels(torch.tensor([item.label for item in train.items]))
        task = self.placement.place(task)
        # the step's memory is known (checkpointing on if needed) before the cache may take any
        self.memory = fit_step(task, cfg, self.placement, str(self.out))
        self._admit_device_cache(self.memory.get("step_bytes", 0))
        steps = max(1, len(self._train_loader(train, 0, None)))
        optimizer, scheduler, per_iteration = make_optimizer(cfg, task, steps)
        history: list[dict] = []
        best: dict | None = None
        start = self._resume(task, optimizer, scheduler, history)
        if history:
            best = max(history, key=lambda row: row["sel_plcc"])

        self._train_split = train
        fetch_images = self._refresh_images

        for epoch in range(start, cfg.epochs):
            torch.manual_seed(epoch_seed(cfg.seed, epoch))
            started = time.time()
            lr = optimizer.param_groups[0]["lr"]
            sums = self._train_epoch(
                task, train, epoch, optimizer, scheduler, per_iteration, fetch_images
            )
            timing = {key: sums.pop(key) for key in ("data_ms", "compute_ms")}
            if not per_iteration:
                scheduler.step()
            metrics = self._selection_metrics(task, selection, epoch)
            row = {"epoch": epoch + 1, "lr": lr, **sums, **timing, "sel_split": selection.name}
            row.update({f"sel_{k}": v for k, v in metrics.items()})
            row["seconds"] = round(time.time() - started, 2)
            history.append(row)
            # a collapsed epoch (NaN metrics) is never selected, and never blocks a later one
            if np.isfinite(row["sel_plcc"]) and (
                best is None or row["sel_plcc"] > best["sel_plcc"]
            ):
                best = row
                self._save_model(task, self.out / "best.pt", row)
            self._write_log(history)
            save_checkpoint(
                {
                    "fingerprint": cfg.fingerprint(),
                    "inputs": self.inputs,
                    "epoch": epoch + 1,
                    "task": task.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "history": history,
                },
                self.out / "last.pt",
                kind="state",
            )
            if self.progress:
                print(
                    f"epoch {epoch + 1}/{cfg.epochs}: {format_terms(sums)} "
                    f"{selection.name} srcc {metrics['srcc']:.4f} plcc {metrics['plcc']:.4f} "
                    f"| per step: data {timing['data_ms']:.1f} ms, compute {timing['compute_ms']:.1f} ms"
                )
        if best is None:
            raise TrainingDiverged(
                f"{self.out}: the predictions on the {selection.name} split were constant in every "
                f"epoch (the score head saturated), so no epoch can be selected; from random "
                f"initialisation lower lr (README: 'When a run collapses')"
            )
        return self._finish(task, best)

    def _selection_metrics(self, task: Task, selection: Split, epoch: int) -> dict[str, float]:
        """Selection metrics of one epoch; NaN (with a warning) where the model predicts one
        constant value, for which correlations are undefined."""
        try:
            return predict(task, self._loader(selection, False), selection, self.placement)[1]
        except MetricError as err:
            print(
                f"warning: epoch {epoch + 1}: {selection.name} {err} — the score head has "
                "saturated; this epoch cannot be selected",
                file=sys.stderr,
            )
            return dict.fromkeys(METRIC_NAMES, float("nan"))

    def _train_epoch(self, task, train, epoch, optimizer, scheduler, per_iteration, fetch_images):
        """One epoch; besides the loss terms, the mean per-step ``data_ms`` (waiting for the
        loader, device transfer, the refresh's images) and ``compute_ms`` (the rest)."""
        task.train()
        sums: dict[str, float] = {}
        loader = self._train_loader(train, epoch, task)
        bar = tqdm(
            total=len(loader),
            desc=f"epoch {epoch + 1}/{self.config.epochs}",
            unit="batch",
            disable=not self.progress,
        )
        data_s = compute_s = 0.0
        done_steps = 0
        self.refresh_misses = 0
        steps = iter(loader)
        while True:
            waited = time.perf_counter()
            payload = next(steps, None)
            if payload is None:
                break
            images = self._to_device(payload["images"])
            batch = self.placement.batch(images, payload["targets"], payload["ids"], train)
            refresh = payload.get("refresh_ids")
            self._prefetched = (refresh, payload["refresh_images"]) if refresh is not None else None
            self._refresh_s = 0.0
            started = time.perf_counter()
            parts = train_step(
                task, batch, optimizer, self.placement, f"{self.out}: epoch {epoch + 1}"
            )
            loss = parts["loss"]
            if per_iteration:
                scheduler.step()
            task.after_step(self._timed(fetch_images))
            for key, value in parts.items():  # float() waits for the device: the step is done
                sums[key] = sums.get(key, 0.0) + float(value.detach())
            done = time.perf_counter()
            data_s += started - waited + self._refresh_s
            compute_s += done - started - self._refresh_s
            done_steps += 1
            bar.update()
            bar.set_postfix(
                loss=f"{loss.item():.4f}",
                data_ms=f"{1000 * data_s / done_steps:.0f}",
                compute_ms=f"{1000 * compute_s / done_steps:.0f}",
            )
        bar.close()
        self._prefetched = None
        count = max(1, len(loader))
        out = {k: v / count for k, v in sums.items()}
        out["data_ms"] = round(1000 * data_s / count, 2)
        out["compute_ms"] = round(1000 * compute_s / count, 2)
        return out

    # state ------------------------------------------------------------------------------------
    def _resume(self, task, optimizer, scheduler, history: list[dict]) -> int:
        path = self.out / "last.pt"
        if not path.exists():
            return 0
        state = read_checkpoint(path, kind="state")
        if state.get("fingerprint") != self.config.fingerprint() or not same_run(
            state.get("inputs"), self.inputs
        ):
            raise CheckpointError(
                f"{path}: was written for another configuration or other data; pass --restart "
                "to discard it and train afresh, or choose another --out"
            )
        task.load_state_dict(state["task"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history.extend(state["history"])
        print(f"resuming {self.out} after epoch {state['epoch']}")
        return int(state["epoch"])

    def _save_model(self, task: Task, path: Path, row: dict) -> None:
        save_checkpoint(
            {
                "model_name": self.config.model,
                "model_kwargs": {},  # named models rebuild from their name alone
                "state_dict": task.inference_state_dict(),
                "config": self.config.to_dict(),
                "epoch": row["epoch"],
                "image_size": self.config.image_size,
            },
            path,
            kind="model",
        )

    def _write_log(self, history: list[dict]) -> None:
        import pandas as pd

        atomic_write_text(pd.DataFrame(history).to_csv(index=False), self.out / "log.csv")

    def _finish(self, task: Task, best: dict) -> dict:
        """Load the selected weights and evaluate the test set (its only read under select: val)."""
        cfg = self.config
        selected = read_checkpoint(self.out / "best.pt", kind="model")
        # the saved model is the inference model: the training-only projection is not in it
        load_weights(task.model, selected["state_dict"], str(self.out / "best.pt"), ("proj.",))
        test_items = load_split_items(cfg, cfg.test_split)
        if self.caches and "test" not in self.caches:
            self.caches["test"] = open_split_cache(cfg, cfg.test_split, test_items, self.progress)
        test = self._split("test", test_items, cfg.text_at_test)
        predictions, metrics = predict(task, self._loader(test, False), test, self.placement)
        summary = {
            **metrics,
            "model": cfg.model,
            "dataset": cfg.dataset,
            "test_split": cfg.test_split,
            "seed": cfg.seed,
            "eal_mode": cfg.eal_mode_label,
            "caption_control": cfg.caption_control_label,
            "select": cfg.select,
            "precision": cfg.precision,
            # the MoM's precision as it ran (EAL runs only: no other run has a momentum model)
            "momentum_precision": cfg.momentum_precision_resolved if cfg.eal_mode_label else None,
            "recipe": cfg.recipe,
            "lr": cfg.lr,
            # how the step fitted the device: checkpointing on or off, bytes needed and free
            "memory": getattr(self, "memory", {}),
            "selected_epoch": selected["epoch"],
            "epochs": cfg.epochs,
            "run_label": cfg.run_label,
            "fingerprint": cfg.fingerprint(),
            "inputs": self.inputs,
            "loaded": loaded_record(task.model, self.placement, cfg),
            "config": cfg.to_dict(),
        }
        write_outputs(self.out, test.items, predictions, summary)
        return summary


def train(
    config: TrainConfig, out: str | Path, progress: bool = True, restart: bool = False
) -> dict:
    """Train (or resume, or skip if complete) one run; returns its ``metrics.json`` content.
    ``restart``: a run of other inputs in ``out`` is discarded instead of refused."""
    return Run(config, out, progress, restart).train()
