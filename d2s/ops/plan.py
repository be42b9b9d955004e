"""``d2s bench plan``: projected hours of the paper matrix per table, from a benchmark JSON.

The run list is the workflow's own (:func:`d2s.paper.runs.table_cells` over the workflow config,
the list ``results/all`` trains); each run costs ``epochs × steps per epoch × step time``, plus one
pass over its test split per epoch for the selection (at a third of a training step per image,
forward only). The step time comes from a benchmark JSON: ``d2s bench gpu``'s (training steps on
the device, data on the device) or ``pytest --benchmark-only tests/test_bench_data.py``'s
(end-to-end steps, data included). It is scaled to each run's batch size and image size (pixels).
With ``d2s bench gpu``'s per-model steps (its ``models`` entry) each model is costed by its own
step at its own batch; a D2S run without EAL then pays its model's step times the measured
vision-only / D2S ratio of D2S-R18 (no momentum model). Without them (older JSONs, the pytest-benchmark one) every D2S
run with EAL pays D2S-R18's D2S step and every other run its vision-only step, as the output says.
A line after the tables gives the share of the runs Table 5's caption controls add.
:func:`wall_hours` spreads the runs over N GPUs (one run per GPU, longest first).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from d2s.paper.runs import (
    MATRIX_TABLES,
    CrossSpec,
    RunSpec,
    key_value_words,
    run_overrides,
    table_cells,
)

TABLES = MATRIX_TABLES

#: Training / test images of each dataset's official split, used when its split files are not on
#: disk yet (docs/design.md §3). SST runs train on their size; NR-IQA runs on 80 % of the set.
SPLIT_SIZES = {
    "ic9600": (6720, 2880),
    "koniq10k": (8058, 2015),
    "kadid10k": (8100, 2025),
    "tid2013": (2400, 600),
}


class PlanError(ValueError):
    """A benchmark JSON the plan cannot read; the message names the file."""


def step_costs(path: str | Path, precision: str = "fp32") -> dict[str, Any]:
    """``{"d2s": ms, "vision-only": ms, "batch": B, "size": S, "device": name}`` from a JSON."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise PlanError(f"{path}: cannot read the benchmark JSON ({err})") from None
    if "training" in data and "settings" in data:  # d2s bench gpu
        train = data["training"]
        try:
            return {
                "d2s": train[f"d2s-{precision}"]["step_ms"],
                "vision-only": train[f"vision-only-{precision}"]["step_ms"],
                "batch": data["settings"]["batch"],
                "size": data["settings"]["size"],
                "device": data["runtime"]["device_name"],
                "models": {
                    name: row for name, row in data.get("models", {}).items() if "step_ms" in row
                },
                "source": f"d2s bench gpu ({precision})"
                + (
                    ", tiny profile: sizes too small to project from"
                    if data.get("profile") == "tiny"
                    else ""
                ),
            }
        except KeyError as err:
            raise PlanError(f"{path}: no {err.args[0]!r} entry in this GPU-check JSON") from None
    for bench in data.get("benchmarks", []):  # pytest-benchmark, tests/test_bench_data.py
        info = bench.get("extra_info", {})
        if "d2s" in info and "vision_only" in info:
            return {
                "d2s": info["d2s"]["step_ms"],
                "vision-only": info["vision_only"]["step_ms"],
                "batch": 32,
                "size": 512,
                "device": data.get("machine_info", {}).get("cpu", {}).get("brand_raw", "cpu"),
                "source": "tests/test_bench_data.py end-to-end step",
            }
    raise PlanError(
        f"{path}: neither a 'd2s bench gpu' JSON nor a pytest-benchmark JSON with the "
        "end-to-end step benchmark (tests/test_bench_data.py)"
    )


def _count(folder: Path, split: str, default: int) -> int:
    """Lines of the split file once it is on disk, else ``default``."""
    file = folder / f"{split}.txt"
    if not file.is_file():
        return default
    return sum(1 for line in file.read_text().splitlines() if line.strip())


def _split_sizes(spec: RunSpec, keys: dict) -> tuple[int, int]:
    train, test = SPLIT_SIZES.get(keys["dataset"], SPLIT_SIZES["ic9600"])
    if spec.split.startswith("sst"):
        train = int(spec.split[3:])
    folder = Path(keys.get("split_dir") or keys["root"])
    return (
        _count(folder, keys.get("train_split", "train"), train),
        _count(folder, keys.get("test_split", "test"), test),
    )


def run_hours(spec: RunSpec, config: dict, costs: dict) -> tuple[float, int]:
    """Projected hours and optimiser steps of one training run."""
    from d2s.registry.models import model_names, model_spec
    from d2s.train.config import TrainConfig
    from d2s.train.recipes import recipe_defaults

    # the model's recipe defaults (d2s/registry/models.py), then the run's own keys
    recipe = model_spec(spec.model).recipe if spec.model in model_names() else TrainConfig.recipe
    keys = {**recipe_defaults(recipe), **run_overrides(spec, config)}
    epochs = int(keys.get("epochs", TrainConfig.epochs))
    batch = int(keys.get("batch_size", TrainConfig.batch_size))
    size = int(keys.get("image_size", TrainConfig.image_size))
    aligns = spec.model in model_names() and model_spec(spec.model).aligns_with_text
    eal = aligns and keys.get("use_eal", TrainConfig.use_eal)
    train, test = _split_sizes(spec, keys)
    steps = epochs * math.ceil(train / batch)
    own = costs.get("models", {}).get(spec.model)
    if own:  # the model's own step, scaled to the run's batch and size
        step_ms = own["step_ms"] * batch / own["batch"] * (size / own["size"]) ** 2
        if model_spec(spec.model).task == "d2s" and not eal:  # measured with EAL: take it off
            step_ms *= costs["vision-only"] / costs["d2s"]
        per_image = own["step_ms"] / own["batch"] * (size / own["size"]) ** 2
    else:
        scale = (size / costs["size"]) ** 2
        step_ms = costs["d2s" if eal else "vision-only"] * batch / costs["batch"] * scale
        per_image = costs["vision-only"] / costs["batch"] * scale
    eval_ms = epochs * test * per_image / 3
    return (steps * step_ms + eval_ms) / 3.6e6, steps


def plan(config: dict, costs: dict) -> list[dict]:
    """One row per table (runs, steps, hours) and a ``total`` row counting each run once."""
    rows, seen = [], {}
    for table in TABLES:
        if table not in config.get("experiments", {}):
            continue
        specs = []
        for cell in table_cells(table, config):
            spec = cell.spec.source if isinstance(cell.spec, CrossSpec) else cell.spec
            if spec not in specs:
                specs.append(spec)
        hours = steps = 0.0
        for spec in specs:
            if spec not in seen:
                seen[spec] = run_hours(spec, config, costs)
            hours += seen[spec][0]
            steps += seen[spec][1]
        rows.append({"table": table, "runs": len(specs), "steps": int(steps), "hours": hours})
    added = control_runs(config)
    if added:
        hours = sum(seen[spec][0] for spec in added)
        steps = sum(seen[spec][1] for spec in added)
        rows.append({"table": CONTROLS_ROW, "runs": len(added), "steps": steps, "hours": hours})
    total_hours = sum(h for h, _ in seen.values())
    total_steps = sum(s for _, s in seen.values())
    rows.append(
        {
            "table": "total (each run once)",
            "runs": len(seen),
            "steps": total_steps,
            "hours": total_hours,
        }
    )
    return rows


#: The plan's line for the runs Table 5's caption controls add (already counted in table5).
CONTROLS_ROW = "of which caption controls"


def control_runs(config: dict) -> list[RunSpec]:
    """The runs Table 5's caption controls add to the matrix: the control runs, and real-caption
    references no other table trains (e.g. under the other ``eal_mode``)."""
    import copy

    base = copy.deepcopy(config)
    ((base.get("experiments") or {}).get("table5") or {}).pop("caption_controls", None)
    known = set(matrix_runs(base))
    return [spec for spec in matrix_runs(config) if spec not in known]


def run_list_hours(config: dict, costs: dict) -> list[float]:
    """Projected hours of every run of the matrix, each once."""
    return [run_hours(spec, config, costs)[0] for spec in matrix_runs(config)]


def wall_hours(hours: list[float], gpus: int) -> float:
    """Wall-clock hours of runs spread over ``gpus`` devices, one run per device at a time,
    longest first onto the least loaded device (Graham's LPT rule, within 4/3 of optimal)."""
    import heapq

    loads = [0.0] * max(1, gpus)
    for h in sorted(hours, reverse=True):
        heapq.heapreplace(loads, loads[0] + h)
    return max(loads)


def matrix_runs(config: dict) -> list[RunSpec]:
    """Every training run of the workflow's tables, once (Table 3's are its source runs)."""
    runs: list[RunSpec] = []
    for table in TABLES:
        if table not in config.get("experiments", {}):
            continue
        for cell in table_cells(table, config):
            spec = cell.spec.source if isinstance(cell.spec, CrossSpec) else cell.spec
            if spec not in runs:
                runs.append(spec)
    return runs


def matrix_datasets(config: dict) -> set[str]:
    """Every dataset the workflow's tables train or evaluate on (Table 3's targets included)."""
    names: set[str] = set()
    for table in TABLES:
        if table in config.get("experiments", {}):
            for cell in table_cells(table, config):
                spec = cell.spec
                names.add(spec.target if isinstance(spec, CrossSpec) else spec.dataset)
                names.add(spec.source.dataset if isinstance(spec, CrossSpec) else spec.dataset)
    return names


def image_cache_runs(config: dict) -> dict[tuple[str, str, int], RunSpec]:
    """One run per (dataset, split, image size) of the matrix: the decoded-image caches the
    workflow builds (workflow/rules/cache.smk), each with the keys of a run that reads it."""
    out: dict[tuple[str, str, int], RunSpec] = {}
    for spec in matrix_runs(config):
        size = int(run_overrides(spec, config).get("image_size", 512))
        out.setdefault((spec.dataset, spec.split, size), spec)
    return out


def image_cache_words(config: dict, dataset: str, split: str, size: int) -> list[str]:
    """``d2s cache-images`` key=value words for that cache: its run's keys at ``size``."""
    spec = image_cache_runs(config)[(dataset, split, int(size))]
    return key_value_words({**run_overrides(spec, config), "image_size": int(size)})
