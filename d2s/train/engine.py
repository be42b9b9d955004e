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

from d2s.checkpoint import CheckpointError, load_weights, read_checkpoint, save_checkpoint
from d2s.core.io import atomic_write_text
from d2s.data.validate import check_decodable
from d2s.method.metrics import MetricError
from d2s.train.config import TrainConfig
from d2s.train.controls import apply_caption_control
from d2s.train.data import Split, check_splits, load_split_items, train_and_selection_items
from d2s.train.evaluation import predict, write_outputs
from d2s.train.loading import DataPath, epoch_seed
from d2s.train.memory import fit_step
from d2s.train.meter import EpochMeter
from d2s.train.provenance import loaded_record
from d2s.train.recipes import Schedule, make_optimizer
from d2s.train.run_folder import RunFolder, config_reads, run_inputs, same_run
from d2s.train.step import Placement, TrainingDiverged, refuse_silent_cpu, train_step
from d2s.train.tasks import Task, make_task

#: The metrics :func:`d2s.method.metrics.evaluate` returns (NaN for an epoch whose predictions collapsed).
METRIC_NAMES = ("srcc", "plcc", "rmse", "rmae")


def format_terms(sums: dict[str, float]) -> str:
    """``loss 0.1234 (mse 0.1, eal 0.0)``: whatever terms the task's loss returned, in its order."""
    parts = ", ".join(f"{key} {value:.4f}" for key, value in sums.items() if key != "loss")
    return f"loss {sums['loss']:.4f}" + (f" ({parts})" if parts else "")


class Run:
    """A training run bound to its output folder; :attr:`data` is what it reads and how."""

    def __init__(
        self, config: TrainConfig, out: str | Path, progress: bool = True, restart: bool = False
    ) -> None:
        self.config = config
        self.out = Path(out)
        self.progress = progress
        self.restart = restart
        self.placement = Placement.of(config)
        self.data = DataPath(config, self.placement, progress)
        self.memory: dict = {}

    def train(self) -> dict:
        """Claim the run folder, check and read the splits, build the task; then :meth:`fit`
        it and test the selected epoch (a complete run is returned as it is)."""
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
        self._set_backends()
        train, selection = self._read_splits(train_items, selection_items, test_items)

        torch.manual_seed(cfg.seed)
        task = make_task(cfg)
        task.init_from_labels(torch.tensor([item.label for item in train.items]))
        task = self.placement.place(task)
        # the step's memory is known (checkpointing on if needed) before the cache may take any
        self.memory = fit_step(task, cfg, self.placement, str(self.out))
        self.data.admit_device_cache(self.memory.get("step_bytes", 0))
        return self._finish(task, self.fit(task, train, selection))

    def fit(self, task: Task, train: Split, selection: Split) -> dict:
        """Every epoch left (a resume goes on after the last saved one): train one epoch, score
        the selection split, keep the best epoch's model, save the state; returns the best
        epoch's log row."""
        cfg = self.config
        optimizer, schedule = make_optimizer(cfg, task, self.data.steps_per_epoch(train))
        history: list[dict] = []
        start = self._resume(task, optimizer, schedule, history)
        best = max(history, key=lambda row: row["sel_plcc"]) if history else None
        for epoch in range(start, cfg.epochs):
            torch.manual_seed(epoch_seed(cfg.seed, epoch))
            started, lr = time.time(), optimizer.param_groups[0]["lr"]
            sums = self.train_one_epoch(task, train, epoch, optimizer, schedule)
            timing = {key: sums.pop(key) for key in ("data_ms", "compute_ms")}
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
            self._save_state(task, optimizer, schedule, history)
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
                f"initialisation lower lr (docs/guarantees.md: 'When a run collapses')"
            )
        return best

    def train_one_epoch(
        self, task: Task, train: Split, epoch: int, optimizer, schedule: Schedule
    ) -> dict[str, float]:
        """One epoch, step by step: batch → loss → optimiser step → lr schedule → after-step
        (EAL's momentum update and buffer refresh). Returns the mean loss terms and the per-step
        ``data_ms`` and ``compute_ms`` (:class:`~d2s.train.meter.EpochMeter`)."""
        task.train()
        loader = self.data.train_loader(train, epoch, task)
        desc = f"epoch {epoch + 1}/{self.config.epochs}"
        meter = EpochMeter(len(loader), desc, self.progress, self.placement.synchronize)
        where = f"{self.out}: epoch {epoch + 1}"
        for index, step in enumerate(meter.iterate(loader)):
            with meter.data():
                batch = self.data.batch(step, train)
            parts = train_step(task, batch, optimizer, self.placement, where)
            schedule.after_step(index)
            task.after_step(meter.timed(self.data.refresh_reader(step.refresh, train)))
            meter.add(parts)
        return meter.means()

    # setup ------------------------------------------------------------------------------------
    def _set_backends(self) -> None:
        cfg = self.config
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        if self.placement.device.type == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
        if self.placement.cuda:
            # As the released code: cudnn deterministic, no autotuning (a key trades it for speed);
            # TF32 matmuls/convolutions are allowed under fp32.
            torch.backends.cudnn.deterministic = cfg.cudnn_deterministic
            torch.backends.cudnn.benchmark = not cfg.cudnn_deterministic
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True

    def _read_splits(self, train_items, selection_items, test_items) -> tuple[Split, Split]:
        """The training split and the selection split (val, or test under ``select:
        test-plcc``), with their caption features, once every image is known to decode."""
        cfg = self.config
        test_paths = test_items if selection_items is None else []
        # Every image must decode before any work is spent (a bad file is named). Building an
        # image cache decodes them all, and a current one was built from these very files
        # (d2s/data/cache.py), so only the per-image path checks here. Test images are decoded,
        # not scored: under select: val their labels stay unread until the end.
        self.data.open_caches(selection_items, test_paths)
        if not self.data.caches:
            check_decodable(
                [*train_items, *(selection_items or []), *test_paths],
                progress=self.progress,
                desc="check images",
            )
        train = self.data.split("train", train_items, cfg.needs_text)
        apply_caption_control(train, cfg.caption_control, cfg.seed)
        if selection_items is not None:
            return train, self.data.split("val", selection_items, cfg.text_at_test)
        # select: test-plcc — the released protocol picks the epoch on the test set
        return train, self.data.split("test", test_paths, cfg.text_at_test)

    def _selection_metrics(self, task: Task, selection: Split, epoch: int) -> dict[str, float]:
        """Selection metrics of one epoch; NaN (with a warning) where the model predicts one
        constant value, for which correlations are undefined."""
        try:
            return predict(task, self.data.eval_loader(selection), selection, self.placement)[1]
        except MetricError as err:
            print(
                f"warning: epoch {epoch + 1}: {selection.name} {err} — the score head has "
                "saturated; this epoch cannot be selected",
                file=sys.stderr,
            )
            return dict.fromkeys(METRIC_NAMES, float("nan"))

    # state ------------------------------------------------------------------------------------
    def _resume(self, task, optimizer, schedule: Schedule, history: list[dict]) -> int:
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
        schedule.scheduler.load_state_dict(state["scheduler"])
        history.extend(state["history"])
        print(f"resuming {self.out} after epoch {state['epoch']}")
        return int(state["epoch"])

    def _save_state(self, task: Task, optimizer, schedule: Schedule, history: list[dict]) -> None:
        """``last.pt``: everything a resume after this epoch needs."""
        save_checkpoint(
            {
                "fingerprint": self.config.fingerprint(),
                "inputs": self.inputs,
                "epoch": history[-1]["epoch"],
                "task": task.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": schedule.scheduler.state_dict(),
                "history": history,
            },
            self.out / "last.pt",
            kind="state",
        )

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
        self.data.open_test_cache(test_items)
        test = self.data.split("test", test_items, cfg.text_at_test)
        predictions, metrics = predict(task, self.data.eval_loader(test), test, self.placement)
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
            "memory": self.memory,
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
